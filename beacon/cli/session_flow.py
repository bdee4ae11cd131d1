"""``ci session start|env|status|stop`` from parsed arguments to an exit code (no typer)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from beacon.cli.common import (
    capture_settings,
    export_settings,
    finish_settings,
    kept_note,
    kept_spool,
    parse_duration,
    report_exports,
    report_finish,
)
from beacon.cli.options import EnvArgs, StartArgs, StatusArgs, StopArgs, UploadArgs
from beacon.cli.render import Reporter
from beacon.config import resolve_paths
from beacon.errors import BeaconError, UsageError


def run_start(args: StartArgs) -> int:
    from beacon.ci import github
    from beacon.run.session import start_session

    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=args.quiet, json_output=args.json_output)
    settings = capture_settings(args, resolve_paths(args.base_dir, args.log_path, environ))
    # The daemon always serves OTLP/HTTP as well: `ci exec` joining the session
    # posts its lifecycle records there, whatever protocol the agents use.
    settings = replace(settings, receivers=settings.receivers | {"http"})
    max_duration_s = parse_duration(args.max_duration, option="--max-duration")
    started = start_session(
        settings, environ, max_duration_s=max_duration_s, reuse=args.reuse, say=reporter.status
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
    return 0


def run_env(args: EnvArgs) -> int:
    from beacon.run.session import EXPORT_FORMATS, format_exports, live_state

    if args.fmt not in EXPORT_FORMATS:
        raise UsageError(
            f"unknown format {args.fmt!r}", hint=f"use one of: {', '.join(EXPORT_FORMATS)}"
        )
    state = live_state(resolve_paths(args.base_dir, None, dict(os.environ)))
    sys.stdout.write(format_exports(state.exports, args.fmt))
    return 0


def run_status(args: StatusArgs) -> int:
    from beacon.errors import ExitCode
    from beacon.run.session import session_status

    info = session_status(resolve_paths(args.base_dir, None, dict(os.environ)))
    records = info["records"]
    counts = (
        f"logs {records.get('logs', 0)}, metrics {records.get('metrics', 0)},"
        f" traces {records.get('traces', 0)}"
    )
    if not info["alive"]:
        # A dead daemon is no running session: exit 6, as `session env` does.
        if args.json_output:
            print(json.dumps(info))
        print(
            f"beacon: error: {info['problem']}; session {info['session_id']}: "
            f"last known records (from its spool): {counts}\nbeacon: {info['next']}",
            file=sys.stderr,
        )
        return int(ExitCode.NO_SESSION)
    if args.json_output:
        print(json.dumps(info))
        return 0
    print(
        f"session {info['session_id']}: alive"
        f" (pid {info['pid']}, up {info['uptime_s']:.0f}s)\n"
        f"endpoints: {', '.join(f'{k} {v}' for k, v in info['endpoints'].items())}"
        f" ({info['protocol']})\n"
        f"records: {counts}; in flight {info['in_flight']};"
        f" last receive {info['last_receive_at'] or 'never'}"
    )
    return 0


def run_stop(args: StopArgs) -> int:
    from beacon.ci import github
    from beacon.run.finish import deferred_signals
    from beacon.run.session import restore_values, stop_session
    from beacon.run.state import load_state

    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=args.quiet, json_output=args.json_output)
    settings = finish_settings(args, environ)
    required = settings.require_telemetry
    paths = resolve_paths(args.base_dir, None, environ)
    state = load_state(paths)
    try:
        with deferred_signals():
            stopped = stop_session(
                paths, environ, settings, say=reporter.status, log_path=args.log_path
            )
    except BeaconError as exc:
        kept = kept_spool(paths.spool_path)
        if kept is None:
            raise
        # The daemon may be gone already: the message must say where its data is.
        reporter.error(f"{exc}{kept_note(kept)}")
        reporter.result(
            {
                "session_id": state.session_id if state else None,
                "exit_code": int(exc.exit_code),
                "error": str(exc),
                "spool_path": kept,
            }
        )
        return int(exc.exit_code)
    finally:
        env_file = github.env_file_path(environ)
        if state is not None and env_file is not None:
            # Later steps must stop exporting to a port nobody listens on,
            # even when processing the spool failed.
            github.append_env_file(env_file, restore_values(state))
    if stopped is None:
        reporter.status(f"no session in {paths.base_dir}: nothing to stop")
        reporter.result({"session_id": None, "exit_code": 0, "stopped": False})
        return 0
    log_path = args.log_path or Path(stopped.state.log_path)
    report_finish(
        reporter,
        stopped.result,
        log_path=log_path,
        require_telemetry=required,
        paths=paths,
        environ=environ,
    )
    return stopped.result.exit_code


def run_upload(args: UploadArgs) -> int:
    """``ci upload``: a finished run's lines, report files and result.json (last)."""
    from beacon.errors import ExitCode
    from beacon.exports import stage
    from beacon.run.finish import write_result

    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=args.quiet, json_output=args.json_output)
    exports = export_settings(args, environ)
    if not exports.uploads:
        raise UsageError("nothing to upload", hint="pass --upload s3, gcs or a bucket URL")
    paths = resolve_paths(args.base_dir, args.log_path, environ)
    result: dict[str, object] = {}
    try:
        loaded = json.loads(paths.result_path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            result = loaded
    except (OSError, ValueError):
        pass
    session_id = args.session_id or result.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise UsageError(
            f"no finished run in {paths.base_dir} (no result.json)",
            hint="pass --session-id or --base-dir",
        )
    owned = result.get("session_id") == session_id
    if not owned:
        result = {"session_id": session_id}
    if not stage.run_lines(paths.log_path, session_id):
        reporter.warning(f"{paths.log_path} holds no lines of run {session_id}")
    plan = stage.plan_exports(paths=paths, session_id=session_id, settings=exports, environ=environ)
    uploads, _ = stage.export_data(plan, redactor=None, original={})
    result["uploads"] = uploads
    text = json.dumps(result, indent=2) + "\n"
    stored = stage.upload_result(plan, text.encode("utf-8"))
    result["uploads"] = uploads + stored
    if owned:
        write_result(paths, result)
    report_exports(reporter, result)
    failed = stage.failed(uploads + stored)
    code = int(ExitCode.UPLOAD_FAILED) if failed and exports.required else 0
    reporter.result({**result, "exit_code": code})
    return code
