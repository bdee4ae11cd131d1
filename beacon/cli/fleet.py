"""``beacon fleet report|sql``: many uploaded runs, queried in place with DuckDB.

Thin: flags -> :mod:`beacon.fleet` -> print. DuckDB and the cloud SDKs are imported
inside the commands, only when they run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from beacon.cli.app import app

fleet_app = typer.Typer(
    help="Reports and SQL over many runs' uploaded logs (DuckDB).", no_args_is_help=True
)
app.add_typer(fleet_app, name="fleet")

SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        help="s3://bucket/prefix, gs://bucket/prefix, or a local directory of downloaded runs.",
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Where remote objects are cached (default: $BEACON_FLEET_CACHE, "
        "else ~/.cache/beacon/fleet).",
        file_okay=False,
    ),
]
Output = Annotated[
    Path | None, typer.Option("--output", help="Write to this file instead of stdout.")
]


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@fleet_app.command("report")
def report_command(
    source: SourceOpt,
    since: Annotated[
        str | None, typer.Option("--since", help="First day (YYYY-MM-DD) of runs to include.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day (YYYY-MM-DD) of runs to include.")
    ] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="Only this repository (owner/name).")
    ] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", help="Only this workflow.")] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="Only this CI provider (github_actions, …).")
    ] = None,
    harness: Annotated[
        str | None, typer.Option("--harness", help="Only runs of this harness (claude_code, …).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Only runs that used this model.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text, markdown, json, html or csv (one row per run).")
    ] = "text",
    output: Output = None,
    cache_dir: CacheDir = None,
) -> None:
    """Runs, cost, tokens, failures, findings, commands and files across many runs."""
    import os

    from beacon.errors import UsageError
    from beacon.fleet.figures import Filters, compute, parse_date
    from beacon.fleet.render import FORMATS, render
    from beacon.fleet.source import collect, default_cache_dir, parse_source
    from beacon.fleet.views import log_health, open_fleet

    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", hint="one of " + ", ".join(FORMATS))
    filters = Filters(
        since=parse_date(since, option="--since"),
        until=parse_date(until, option="--until"),
        repo=repo,
        workflow=workflow,
        provider=provider,
        harness=harness,
        model=model,
    )
    parsed = parse_source(source)
    files = collect(
        parsed, cache_dir=cache_dir or default_cache_dir(os.environ), environ=os.environ
    )
    con = open_fleet(files)
    report = compute(con, source=parsed.url, filters=filters, health=log_health(con, files))
    _emit(render(report, fmt), output)


@fleet_app.command("sql")
def sql_command(
    query: Annotated[str, typer.Argument(help="SQL over the views `events` and `runs`.")],
    source: SourceOpt,
    fmt: Annotated[
        str, typer.Option("--format", help="table (default), json (one object per row) or csv.")
    ] = "table",
    output: Output = None,
    cache_dir: CacheDir = None,
) -> None:
    """Run SQL over the fleet's views (see docs/fleet.md for their columns)."""
    import os

    from beacon.errors import UsageError
    from beacon.fleet.source import collect, default_cache_dir, parse_source
    from beacon.fleet.sql import SQL_FORMATS, run_sql
    from beacon.fleet.views import open_fleet

    if fmt not in SQL_FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", hint="one of " + ", ".join(SQL_FORMATS))
    files = collect(
        parse_source(source),
        cache_dir=cache_dir or default_cache_dir(os.environ),
        environ=os.environ,
    )
    _emit(run_sql(open_fleet(files), query, fmt), output)
