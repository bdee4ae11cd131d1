"""``beacon ci exec`` from parsed arguments to an exit code (no typer here)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beacon.cli.common import (
    capture_settings,
    finish_settings,
    kept_note,
    kept_spool,
    parse_duration,
    report_finish,
)
from beacon.cli.options import ExecArgs
from beacon.cli.render import Reporter
from beacon.config import resolve_paths
from beacon.errors import BeaconError, ExitCode, UsageError

if TYPE_CHECKING:
    from beacon.config import CaptureSettings, FinishSettings
    from beacon.run.exec import Capture
    from beacon.run.state import SessionState


def run_exec(args: ExecArgs) -> int:
    from beacon.run.finish import deferred_signals

    # From here to the exit, SIGINT/SIGTERM/SIGHUP never kill beacon outright:
    # while the child runs they are forwarded to it, afterwards they are held
    # until runtime.jsonl is written (the runner's SIGKILL comes ~10 s later).
    with deferred_signals() as early_signals:
        return _run_exec(args, early_signals)


def _run_exec(args: ExecArgs, early_signals: list[int]) -> int:
    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=args.quiet, json_output=args.json_output)
    argv = list(args.command)
    if not argv:
        raise UsageError("no command to run", hint="put it after --: beacon ci exec -- CMD ARGS")
    finish = finish_settings(args, environ)
    paths = resolve_paths(args.base_dir, args.log_path, environ)
    settings = capture_settings(args, paths)
    timeout_s = parse_duration(args.timeout, option="--timeout") if args.timeout else None
    paths.check_writable()
    child_environ = environ
    if finish.exports.configured:
        from beacon.exports.settings import without_credentials

        # The uploader keeps using them (``environ``); the agent never sees them.
        child_environ = without_credentials(environ)
    run = ExecRun(
        argv=argv,
        settings=settings,
        finish=finish,
        environ=environ,
        child_environ=child_environ,
        timeout_s=timeout_s,
        reporter=reporter,
        early_signals=early_signals,
    )

    from beacon.run.lock import BaseDirLock

    # From the checks until this run's exec.json is written (or it joined a session):
    # a `session start` or `ci exec` started at the same moment waits, then finds it.
    lock = BaseDirLock.acquire(paths)
    try:
        state, dead_session = _owner(run)
        if state is not None:
            lock.release()
            return _join(run, state)
        return _own_run(run, dead_session, registered=lock.release)
    finally:
        lock.release()


@dataclass(frozen=True)
class ExecRun:
    argv: list[str]
    settings: CaptureSettings
    finish: FinishSettings
    environ: dict[str, str]
    child_environ: dict[str, str]
    timeout_s: float | None
    reporter: Reporter
    early_signals: list[int]


def _owner(run: ExecRun) -> tuple[SessionState | None, SessionState | None]:
    """(the live run to join, the dead session whose spool this run sets aside).

    Called under the base dir's lock."""
    from beacon.run.exec import running_exec
    from beacon.run.state import load_state, session_alive

    paths = run.settings.paths
    state = load_state(paths)
    dead_session = None
    if state is not None and not session_alive(state):
        run.reporter.warning(
            f"the session in {paths.base_dir} (daemon pid {state.pid}) died without "
            "`beacon ci session stop`; this run sets its spool aside, and "
            "`beacon ci session stop` processes it"
        )
        dead_session, state = state, None
    if state is None:
        state = running_exec(paths, run.environ)
    return state, dead_session


def _join(run: ExecRun, state: SessionState) -> int:
    from beacon.run.exec import join_session
    from beacon.run.finish import RunOutcome, decide_exit_code, result_object

    if run.finish.exports.configured:
        run.reporter.warning(
            f"this step joins the run {state.session_id}: --upload/--forward apply where "
            "that run ends (`beacon ci session stop --upload …`), not here"
        )
    child = asyncio.run(
        join_session(
            run.argv,
            state,
            run.child_environ,
            timeout_s=run.timeout_s,
            say=run.reporter.status,
            early_signals=run.early_signals,
        )
    )
    code = decide_exit_code(
        child_exit_code=child.exit_code,
        timed_out=child.timed_out,
        validation_status=None,
        require_telemetry=run.finish.require_telemetry,
        cancelled_by=child.cancelled_by,
    )
    outcome = RunOutcome(
        session_id=state.session_id,
        child_exit_code=child.exit_code,
        timed_out=child.timed_out,
        cancelled_by=child.cancelled_by,
    )
    run.reporter.result(result_object(outcome=outcome, exit_code=code, validation=None))
    return code


def _own_run(
    run: ExecRun, dead_session: SessionState | None, *, registered: Callable[[], None]
) -> int:
    """This run's own collector; ``registered`` is called once its exec.json is written."""
    from beacon.run.exec import capture
    from beacon.run.leftovers import known_tokens

    reporter = run.reporter
    tokens = known_tokens(run.settings.paths)  # before capture replaces exec.json
    mask = None
    if reporter.actions:
        from beacon.ci import github

        def mask(secret: str) -> None:
            # The child may print its environment; the runner then hides the token.
            reporter.command(github.add_mask(secret))

    captured = asyncio.run(
        capture(
            run.argv,
            run.settings,
            run.child_environ,
            timeout_s=run.timeout_s,
            say=reporter.status,
            mask=mask,
            early_signals=run.early_signals,
            registered=registered,
        )
    )
    code = _finish(run, captured, dead_session, tokens)
    held = run.early_signals[captured.held_from :]
    if held:
        import signal

        names = ", ".join(dict.fromkeys(signal.Signals(signum).name for signum in held))
        # Why beacon outlived the runner's SIGTERM: the log came first.
        reporter.status(
            f"{names} arrived while beacon was finishing: held until runtime.jsonl "
            "and result.json were written"
        )
    return code


def _finish(
    run: ExecRun,
    captured: Capture,
    dead_session: SessionState | None,
    tokens: dict[str, str],
) -> int:
    """Other runs' leftovers, then this run's pipeline, verdict and result.json."""
    from beacon.run.finish import finish_run, result_object
    from beacon.run.leftovers import recover_set_aside

    reporter, paths, settings, finish = run.reporter, run.settings.paths, run.settings, run.finish
    child_code = captured.outcome.child_exit_code or 0
    if captured.child.timed_out:
        child_code = int(ExitCode.TIMEOUT)
    try:
        recovered = recover_set_aside(
            paths,
            harnesses=settings.harnesses,
            settings=finish,
            environ=run.environ,
            tokens=tokens,
            leave=({dead_session.session_id: "`beacon ci session stop`"} if dead_session else None),
            defer=captured.outcome.cancelled_by is not None,
        )
        finished = finish_run(
            paths=paths,
            outcome=captured.outcome,
            harnesses=settings.harnesses,
            settings=finish,
            environ=run.environ,
            switches=settings.switches,
            recovered=recovered,
            say=reporter.status,
        )
    except Exception as exc:
        # The child ran; a failure while processing must not hide its exit code.
        failed = exc.exit_code if isinstance(exc, BeaconError) else ExitCode.BEACON_FAILED
        code = child_code or int(failed)
        result = result_object(outcome=captured.outcome, exit_code=code, validation=None)
        result["error"] = str(exc)
        kept = kept_spool(paths.spool_path)
        reporter.error(f"could not process the captured telemetry: {exc}{kept_note(kept)}")
        if kept is not None:
            result["spool_path"] = kept
        reporter.result(result)
        return code
    report_finish(
        reporter,
        finished,
        log_path=paths.log_path,
        require_telemetry=finish.require_telemetry,
        paths=paths,
        environ=run.environ,
    )
    return finished.exit_code
