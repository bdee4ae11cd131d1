"""``beacon ci session start|env|status|stop`` (and ``ci start`` / ``ci finish``).

Thin: flags → :mod:`beacon.run.session` → render. Heavy imports stay inside the
commands.
"""

from __future__ import annotations

from typing import Annotated

import typer

from beacon.cli import options as o
from beacon.cli.app import ci_app

session_app = typer.Typer(
    help="A collector that outlives one step: start, run steps, stop.", no_args_is_help=True
)
ci_app.add_typer(session_app, name="session")

MaxDuration = Annotated[
    str,
    typer.Option("--max-duration", help="The daemon exits after this long (e.g. 6h, 30m, 90)."),
]
Reuse = Annotated[
    bool, typer.Option("--reuse", help="Succeed with the running session instead of failing.")
]
Format = Annotated[str, typer.Option("--format", help="sh (default), fish, dotenv, json, github.")]


def start(
    base_dir: o.BaseDir = None,
    log_path: o.LogPath = None,
    protocol: o.Protocol = "http/protobuf",
    receivers: o.Receivers = None,
    harness: o.HarnessOpt = None,
    no_traces: o.NoTraces = False,
    no_prompts: o.NoPrompts = False,
    no_tool_details: o.NoToolDetails = False,
    max_duration: MaxDuration = "6h",
    drain_quiet: o.DrainQuiet = "0.2",
    drain_max: o.DrainMax = "5",
    fsync: o.Fsync = "batch",
    reuse: Reuse = False,
    json_output: o.JsonOutput = False,
    quiet: o.Quiet = False,
) -> None:
    """Start the session daemon and export its environment to later steps."""
    from beacon.cli.argv import StartArgs, args_from_parameters
    from beacon.cli.session_flow import run_start

    args = args_from_parameters(StartArgs, dict(locals()))
    raise typer.Exit(run_start(args))


def env(
    base_dir: o.BaseDir = None,
    fmt: Format = "sh",
) -> None:
    """Print the running session's exports (eval "$(beacon ci session env)")."""
    from beacon.cli.argv import EnvArgs, args_from_parameters
    from beacon.cli.session_flow import run_env

    args = args_from_parameters(EnvArgs, dict(locals()))
    raise typer.Exit(run_env(args))


def status(
    base_dir: o.BaseDir = None,
    json_output: o.JsonOutput = False,
) -> None:
    """Report the session: alive, pid, endpoints, records received."""
    from beacon.cli.argv import StatusArgs, args_from_parameters
    from beacon.cli.session_flow import run_status

    args = args_from_parameters(StatusArgs, dict(locals()))
    raise typer.Exit(run_status(args))


def stop(
    base_dir: o.BaseDir = None,
    log_path: o.LogPath = None,
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
    """Drain and stop the daemon, then write and validate runtime.jsonl."""
    from beacon.cli.argv import StopArgs, args_from_parameters
    from beacon.cli.session_flow import run_stop

    args = args_from_parameters(StopArgs, dict(locals()))
    raise typer.Exit(run_stop(args))


session_app.command("start")(start)
session_app.command("env")(env)
session_app.command("status")(status)
session_app.command("stop")(stop)
# Names the Go tool used.
ci_app.command("start", help="Alias of `ci session start`.")(start)
ci_app.command("finish", help="Alias of `ci session stop`.")(stop)
