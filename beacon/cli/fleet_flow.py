"""``beacon fleet report|sql`` from parsed arguments to an exit code (no typer).

DuckDB and the cloud SDKs are imported only when a fleet command runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from beacon.cli.options import FleetDdlArgs, FleetReportArgs, FleetSqlArgs
from beacon.errors import UsageError

if TYPE_CHECKING:
    from beacon.fleet.source import FleetFiles


def _files(source_text: str | None, cache_dir: Path | None) -> tuple[str, FleetFiles]:
    from beacon.fleet.source import collect, default_cache_dir, parse_source

    if not source_text:
        raise UsageError("--source is required", hint="s3://bucket/prefix, gs://… or a directory")
    source = parse_source(source_text)
    files = collect(
        source, cache_dir=cache_dir or default_cache_dir(os.environ), environ=os.environ
    )
    return source.url, files


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def run_report(args: FleetReportArgs) -> int:
    from beacon.fleet.figures import Filters, compute, parse_date
    from beacon.fleet.render import FORMATS, render
    from beacon.fleet.views import log_health, open_fleet

    if args.fmt not in FORMATS:
        raise UsageError(f"unknown --format {args.fmt!r}", hint="one of " + ", ".join(FORMATS))
    filters = Filters(
        since=parse_date(args.since, option="--since"),
        until=parse_date(args.until, option="--until"),
        repo=args.repo,
        workflow=args.workflow,
        provider=args.provider,
        harness=args.harness,
        model=args.model,
    )
    url, files = _files(args.source, args.cache_dir)
    con = open_fleet(files)
    report = compute(con, source=url, filters=filters, health=log_health(con, files))
    _emit(render(report, args.fmt), args.output)
    return 0


def run_sql(args: FleetSqlArgs) -> int:
    from beacon.fleet.sql import SQL_FORMATS, run_sql
    from beacon.fleet.views import open_fleet

    if args.fmt not in SQL_FORMATS:
        raise UsageError(f"unknown --format {args.fmt!r}", hint="one of " + ", ".join(SQL_FORMATS))
    query = " ".join(args.command).strip()
    if not query:
        raise UsageError("no query given", hint='beacon fleet sql --source SRC "SELECT ..."')
    _url, files = _files(args.source, args.cache_dir)
    _emit(run_sql(open_fleet(files), query, args.fmt), args.output)
    return 0


def run_ddl(args: FleetDdlArgs) -> int:
    from beacon.fleet.ddl import table_definition

    if not args.location:
        raise UsageError("--location is required", hint="s3://bucket/prefix or gs://bucket/prefix")
    sys.stdout.write(
        table_definition(engine=args.engine, layout=args.layout, location=args.location)
    )
    return 0
