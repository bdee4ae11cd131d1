"""``beacon ci exec [OPTIONS] -- CMD [ARGS...]``: wrap one command with a collector.

Thin: flags → settings → :mod:`beacon.exec_run` → :func:`beacon.run.finish_run`
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
    import asyncio
    import os

    from beacon.cli.common import finish_settings, parse_duration, report_finish
    from beacon.cli.render import Reporter
    from beacon.config import CaptureSettings, resolve_paths
    from beacon.errors import BeaconError, ExitCode, UsageError

    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=quiet, json_output=json_output)
    argv = list(command or [])
    if not argv:
        raise UsageError("no command to run", hint="put it after --: beacon ci exec -- CMD ARGS")
    required = o.require_telemetry(require_telemetry, no_require_telemetry)
    finish = finish_settings(
        require_telemetry=required,
        keep_spool=keep_spool,
        min_events=min_events,
        require_action=require_action,
        redact_env=redact_env,
        redact_pattern=redact_pattern,
    )
    paths = resolve_paths(base_dir, log_path, environ)
    settings = CaptureSettings.build(
        paths=paths,
        protocol=protocol,
        receivers=receivers,
        harness=harness or ["claude"],
        traces=not no_traces,
        prompts=not no_prompts,
        tool_details=not no_tool_details,
        drain_quiet_s=parse_duration(drain_quiet, option="--drain-quiet"),
        drain_max_s=parse_duration(drain_max, option="--drain-max"),
    )
    timeout_s = parse_duration(timeout, option="--timeout") if timeout else None
    paths.ensure_dirs()

    from beacon.session_state import load_state, session_alive

    state = load_state(paths)
    if state is not None and session_alive(state):
        from beacon.exec_run import join_session
        from beacon.run import RunOutcome, decide_exit_code, result_object

        child = asyncio.run(
            join_session(argv, state, environ, timeout_s=timeout_s, say=reporter.status)
        )
        code = decide_exit_code(
            child_exit_code=child.exit_code,
            timed_out=child.timed_out,
            validation_status=None,
            require_telemetry=required,
            cancelled_by=child.cancelled_by,
        )
        outcome = RunOutcome(
            session_id=state.session_id, child_exit_code=child.exit_code, timed_out=child.timed_out
        )
        reporter.result(result_object(outcome=outcome, exit_code=code, validation=None))
        raise typer.Exit(code)

    from beacon.exec_run import capture
    from beacon.run import deferred_signals, finish_run

    captured = asyncio.run(
        capture(argv, settings, environ, timeout_s=timeout_s, say=reporter.status)
    )
    child_code = captured.outcome.child_exit_code or 0
    if captured.child.timed_out:
        child_code = int(ExitCode.TIMEOUT)
    with deferred_signals():
        try:
            run = finish_run(
                paths=paths,
                outcome=captured.outcome,
                harnesses=settings.harnesses,
                settings=finish,
                environ=environ,
            )
        except BeaconError as exc:
            reporter.error(f"could not process the captured telemetry: {exc}")
            raise typer.Exit(child_code or int(exc.exit_code)) from None
        except Exception as exc:
            # The child ran; a crash while processing must not hide its exit code.
            reporter.error(f"could not process the captured telemetry: {exc!r}")
            raise typer.Exit(child_code or int(ExitCode.BEACON_FAILED)) from None
    report_finish(reporter, run, log_path=paths.log_path, require_telemetry=required)
    raise typer.Exit(run.exit_code)
