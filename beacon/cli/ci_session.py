"""``beacon ci session start|env|status|stop`` (and ``ci start`` / ``ci finish``).

Thin: flags → :mod:`beacon.session` → render. Heavy imports stay inside the
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
    typer.Option(
        "--max-duration", help="The daemon exits after this long (e.g. 6h, 30m, 90) [6h]."
    ),
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
    reuse: Reuse = False,
    json_output: o.JsonOutput = False,
    quiet: o.Quiet = False,
) -> None:
    """Start the session daemon and export its environment to later steps."""
    import os

    from beacon.ci import github
    from beacon.cli.common import parse_duration
    from beacon.cli.render import Reporter
    from beacon.config import CaptureSettings, resolve_paths
    from beacon.session import start_session

    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=quiet, json_output=json_output)
    settings = CaptureSettings.build(
        paths=resolve_paths(base_dir, log_path, environ),
        protocol=protocol,
        receivers=receivers,
        harness=harness or ["claude"],
        traces=not no_traces,
        prompts=not no_prompts,
        tool_details=not no_tool_details,
        drain_quiet_s=parse_duration(drain_quiet, option="--drain-quiet"),
        drain_max_s=parse_duration(drain_max, option="--drain-max"),
    )
    max_duration_s = parse_duration(max_duration, option="--max-duration")
    started = start_session(
        settings, environ, max_duration_s=max_duration_s, reuse=reuse, say=reporter.status
    )
    state = started.state
    env_file = github.env_file_path(environ)
    if env_file is not None:
        # The mask first: from here on the runner hides the token in every log.
        reporter.command(github.add_mask(state.token))
        github.append_env_file(env_file, state.exports)
        reporter.status(f"exported {len(state.exports)} variables to later steps via GITHUB_ENV")
    if not started.reused:
        endpoint = state.endpoints.get("grpc" if state.protocol == "grpc" else "http")
        reporter.status(
            f"session {state.session_id} listening on {endpoint} ({state.protocol}), "
            f"daemon pid {state.pid}"
        )
    reporter.status(f"environment for later steps: source {settings.paths.env_path}")
    reporter.result(
        {
            "session_id": state.session_id,
            "pid": state.pid,
            "endpoints": state.endpoints,
            "protocol": state.protocol,
            "env_path": str(settings.paths.env_path),
            "state_path": str(settings.paths.state_path),
            "reused": started.reused,
        }
    )


def env(
    base_dir: o.BaseDir = None,
    fmt: Format = "sh",
) -> None:
    """Print the running session's exports (eval "$(beacon ci session env)")."""
    import os
    import sys

    from beacon.config import resolve_paths
    from beacon.errors import UsageError
    from beacon.session import EXPORT_FORMATS, format_exports, live_state

    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(EXPORT_FORMATS)}")
    environ = dict(os.environ)
    state = live_state(resolve_paths(base_dir, None, environ))
    sys.stdout.write(format_exports(state.exports, fmt))


def status(
    base_dir: o.BaseDir = None,
    json_output: o.JsonOutput = False,
) -> None:
    """Report the session: alive, pid, endpoints, records received."""
    import json
    import os

    from beacon.config import resolve_paths
    from beacon.session import session_status

    environ = dict(os.environ)
    info = session_status(resolve_paths(base_dir, None, environ))
    if json_output:
        typer.echo(json.dumps(info))
        return
    records = info["records"]
    lines = [
        f"session {info['session_id']}: {'alive' if info['alive'] else 'NOT running'}"
        f" (pid {info['pid']}, up {info['uptime_s']:.0f}s)",
        f"endpoints: {', '.join(f'{k} {v}' for k, v in info['endpoints'].items())}"
        f" ({info['protocol']})",
        f"records: logs {records.get('logs', 0)}, metrics {records.get('metrics', 0)},"
        f" traces {records.get('traces', 0)}; in flight {info['in_flight']};"
        f" last receive {info['last_receive_at'] or 'never'}",
    ]
    typer.echo("\n".join(lines))


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
    import os

    from beacon.ci import github
    from beacon.cli.common import finish_settings, report_finish
    from beacon.cli.render import Reporter
    from beacon.config import resolve_paths
    from beacon.run import deferred_signals
    from beacon.session import restore_values, stop_session

    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=quiet, json_output=json_output)
    required = o.require_telemetry(require_telemetry, no_require_telemetry)
    settings = finish_settings(
        require_telemetry=required,
        keep_spool=keep_spool,
        min_events=min_events,
        require_action=require_action,
        redact_env=redact_env,
        redact_pattern=redact_pattern,
    )
    paths = resolve_paths(base_dir, None, environ)
    with deferred_signals():
        stopped = stop_session(paths, environ, settings, say=reporter.status, log_path=log_path)
    if stopped is None:
        reporter.status(f"no session in {paths.base_dir}: nothing to stop")
        return
    env_file = github.env_file_path(environ)
    if env_file is not None:
        # Later steps must stop exporting to a port nobody listens on.
        github.append_env_file(env_file, restore_values(stopped.state))
    result_log = log_path or stopped.state.log_path
    from pathlib import Path

    report_finish(reporter, stopped.result, log_path=Path(result_log), require_telemetry=required)
    raise typer.Exit(stopped.result.exit_code)


session_app.command("start")(start)
session_app.command("env")(env)
session_app.command("status")(status)
session_app.command("stop")(stop)
# Names the Go tool used.
ci_app.command("start", help="Alias of `ci session start`.")(start)
ci_app.command("finish", help="Alias of `ci session stop`.")(stop)
