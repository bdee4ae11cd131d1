"""``beacon ci validate``: check runtime.jsonl for one run (the most recent by default).

Thin: flags -> :func:`beacon.pipeline.validate_log` -> render. Exit 0 when the
result is ok or warn, 3 when it is fail.
"""

from __future__ import annotations

from typing import Annotated

import typer

from beacon.cli import options as o
from beacon.cli.app import ci_app

VALIDATE_HELP = """Validate runtime.jsonl: it parses, matches the runtime schema 1.0, and holds
enough events of this run (see docs/validation.md).

Exit code: 0 when validation is ok or warn, 3 when it fails, 2 on bad usage.
"""

SessionId = Annotated[
    str | None,
    typer.Option("--session-id", help="The beacon run to check [default: the most recent run]."),
]


@ci_app.command("validate", help=VALIDATE_HELP)
def validate_command(
    log_path: o.LogPath = None,
    session_id: SessionId = None,
    min_events: o.MinEvents = 1,
    harness: o.HarnessOpt = None,
    require_action: o.RequireAction = None,
    json_output: o.JsonOutput = False,
) -> None:
    import json
    import os

    from beacon.agents.harnesses import resolve_harnesses
    from beacon.config import resolve_paths
    from beacon.errors import ExitCode, UsageError
    from beacon.pipeline import validate_log
    from beacon.pipeline.report import render_validation

    if min_events < 0:
        raise UsageError("--min-events must not be negative")
    paths = resolve_paths(None, log_path, os.environ)
    harnesses = tuple(h.name for h in resolve_harnesses(harness or ["claude"]))
    result = validate_log(
        paths.log_path,
        session_id=session_id,
        harnesses=harnesses,
        min_events=min_events,
        require_actions=tuple(require_action or ()),
    )
    if json_output:
        typer.echo(json.dumps(result.to_dict(), separators=(",", ":")))
    else:
        typer.echo(render_validation(result))
    if result.status == "fail":
        raise typer.Exit(int(ExitCode.VALIDATION_FAILED))
