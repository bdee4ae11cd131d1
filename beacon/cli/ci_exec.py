"""``beacon ci exec [OPTIONS] -- CMD [ARGS...]``: wrap one command with a collector.

Thin: flags → settings → :mod:`beacon.run.exec` → :func:`beacon.run.finish.finish_run`
→ render. Heavy modules are imported inside the command so ``--help`` and
other commands stay fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from beacon.cli import options as o
from beacon.cli.app import ci_app

EXEC_HELP = """Run CMD with its telemetry captured, then write and validate runtime.jsonl.

Exit code: the command's own when non-zero (128+N when killed by signal N);
124 when --timeout expired; else 3 when validation failed and telemetry is
required; 5 when beacon itself failed; 0 otherwise.
"""

Command = Annotated[list[str] | None, typer.Argument(help="The command to run (after --).")]
Timeout = Annotated[
    str | None,
    typer.Option("--timeout", help="Kill the command after this long (e.g. 600, 10m); exit 124."),
]


@ci_app.command(
    "exec",
    help=EXEC_HELP,
    context_settings={"allow_interspersed_args": False},
)
def exec_command(
    command: Command = None,
    base_dir: o.BaseDir = None,
    log_path: o.LogPath = None,
    protocol: o.Protocol = "http/protobuf",
    receivers: o.Receivers = None,
    harness: o.HarnessOpt = None,
    no_traces: o.NoTraces = False,
    no_prompts: o.NoPrompts = False,
    no_tool_details: o.NoToolDetails = False,
    timeout: Timeout = None,
    drain_quiet: o.DrainQuiet = "0.2",
    drain_max: o.DrainMax = "5",
    fsync: o.Fsync = "batch",
    require_telemetry: o.RequireTelemetry = None,
    no_require_telemetry: o.NoRequireTelemetry = False,
    keep_spool: o.KeepSpool = False,
    min_events: o.MinEvents = 1,
    require_action: o.RequireAction = None,
    redact_env: o.RedactEnv = None,
    redact_pattern: o.RedactPattern = None,
    json_output: o.JsonOutput = False,
    quiet: o.Quiet = False,
) -> None:
    from beacon.cli.argv import ExecArgs, args_from_parameters
    from beacon.cli.exec_flow import run_exec

    args = args_from_parameters(ExecArgs, dict(locals()))
    raise typer.Exit(run_exec(args))
