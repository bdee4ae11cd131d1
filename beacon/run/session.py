"""Session mode: start the detached daemon, print its environment, report, stop.

``start_session`` spawns ``python -m beacon.run.daemon`` in its own
session, waits (bounded) for its readiness line, then writes ``session.json``
and ``session.env``. ``stop_session`` asks the daemon to drain and exit, or
notices it is already gone, then runs the same finish as ``ci exec``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beacon.agents.harnesses import (
    original_destination,
    protocol_notes,
    resolve_harnesses,
)
from beacon.ci import github
from beacon.config import (
    BASE_DIR_ENV,
    LOG_PATH_ENV,
    STATE_PATH_ENV,
    CaptureSettings,
    FinishSettings,
)
from beacon.errors import NoSessionError, StartupError, UsageError
from beacon.paths import FILE_MODE, ArtifactPaths
from beacon.run.daemon import TOKEN_ENV
from beacon.run.exec import (
    agent_environment,
    exec_state,
    expects_agent_events,
    new_session_id,
    new_token,
    warm_up_pipeline,
)
from beacon.run.finish import RunOutcome, RunResult, finish_run, write_private
from beacon.run.leftovers import known_tokens, recover_set_aside
from beacon.run.lock import BaseDirLock
from beacon.run.secrets import fetch_session_secrets, secret_values, without_secrets
from beacon.run.spools import set_aside, set_aside_spools, spool_session_id
from beacon.run.state import (
    SessionState,
    fetch_status,
    is_ours,
    load_state,
    process_alive,
    remove_state,
    request,
    session_alive,
    wait_for_exit,
)

Say = Callable[[str], None]
EXPORT_FORMATS = ("sh", "fish", "dotenv", "json", "github")
READY_TIMEOUT_S = 30.0
SESSION_ID_ENV = "BEACON_CI_SESSION_ID"


@dataclass(frozen=True)
class Started:
    state: SessionState
    reused: bool


def start_session(
    settings: CaptureSettings,
    environ: Mapping[str, str],
    *,
    max_duration_s: float,
    reuse: bool,
    say: Say,
    ready_timeout_s: float = READY_TIMEOUT_S,
) -> Started:
    paths = settings.paths
    paths.check_writable()
    # From the check to session.json: a concurrent start (or ci exec) waits, then sees
    # this session instead of spawning a second daemon on the same spool.
    with BaseDirLock.acquire(paths):
        existing = claim_base_dir(paths, reuse=reuse, say=say)
        if existing is not None:
            return Started(existing, reused=True)
        return launch(
            settings,
            environ,
            max_duration_s=max_duration_s,
            say=say,
            ready_timeout_s=ready_timeout_s,
        )


def claim_base_dir(paths: ArtifactPaths, *, reuse: bool, say: Say) -> SessionState | None:
    """The live session to reuse, or None when the base dir is free (stale state removed).

    Raises when a ``ci exec`` runs there, or a session does and ``reuse`` is off.
    Call it under the base dir's lock.
    """
    busy = exec_state(paths)
    if busy is not None and is_ours(busy):
        raise StartupError(
            f"a `beacon ci exec` (pid {busy.pid}) is running in {paths.base_dir}",
            hint="use another --base-dir for the session",
        )
    existing = load_state(paths)
    if existing is None:
        return None
    if session_alive(existing):
        if reuse:
            say(f"reusing session {existing.session_id} (pid {existing.pid})")
            return existing
        raise StartupError(
            f"a session is already running in {paths.base_dir} (pid {existing.pid})",
            hint="stop it with `beacon ci session stop`, pass --reuse, or use another --base-dir",
        )
    say(f"replacing stale session state: daemon pid {existing.pid} is gone")
    remove_state(paths)
    return None


def launch(
    settings: CaptureSettings,
    environ: Mapping[str, str],
    *,
    max_duration_s: float,
    say: Say,
    ready_timeout_s: float,
) -> Started:
    """Spawn the daemon, then write session.json and session.env for later steps."""
    paths = settings.paths
    session_id = new_session_id()
    token = new_token()
    secrets_token = new_token()
    ready = spawn_daemon(
        settings,
        environ,
        session_id=session_id,
        token=token,
        secrets_token=secrets_token,
        max_duration_s=max_duration_s,
        ready_timeout_s=ready_timeout_s,
    )
    try:
        endpoints = {str(k): str(v) for k, v in ready["endpoints"].items()}
        exports = agent_environment(
            settings, paths, environ, endpoints=endpoints, token=token, session_id=session_id
        )
        exports.update(
            {
                BASE_DIR_ENV: str(paths.base_dir),
                STATE_PATH_ENV: str(paths.state_path),
                LOG_PATH_ENV: str(paths.log_path),
                SESSION_ID_ENV: session_id,
            }
        )
        state = SessionState.begin(
            settings,
            paths,
            session_id=session_id,
            pid=int(ready["pid"]),
            token=token,
            endpoints=endpoints,
            status_url=str(ready["status_url"]),
            exports=exports,
            previous={name: environ.get(name, "") for name in exports},
            original_destination=original_destination(environ),
            max_duration_s=max_duration_s,
            secrets_token=secrets_token,
        )
        write_private(paths.state_path, state.to_json())
        write_private(paths.env_path, format_exports(exports, "sh"))
        for note in protocol_notes(settings.harnesses, settings.protocol):
            say(note)
    except BaseException:
        # Never leave a daemon nobody can find: no state file points at it.
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(ready["pid"]), signal.SIGTERM)
        raise
    return Started(state, reused=False)


def spawn_daemon(
    settings: CaptureSettings,
    environ: Mapping[str, str],
    *,
    session_id: str,
    token: str,
    secrets_token: str,
    max_duration_s: float,
    ready_timeout_s: float,
) -> dict[str, Any]:
    paths = settings.paths
    read_fd, write_fd = os.pipe()
    secrets_read, secrets_write = os.pipe()
    # -P: the current directory must not shadow the beacon package (a step
    # running in $RUNNER_TEMP has a beacon/ base dir right there).
    argv = [
        sys.executable,
        "-P",
        "-m",
        "beacon.run.daemon",
        "--spool-path",
        str(paths.spool_path),
        "--otelcol-path",
        str(paths.otelcol_path),
        "--receivers",
        ",".join(sorted(settings.receivers)),
        "--session-id",
        session_id,
        "--max-duration",
        repr(max_duration_s),
        "--drain-quiet",
        repr(settings.drain_quiet_s),
        "--drain-max",
        repr(settings.drain_max_s),
        "--fsync",
        settings.fsync,
        "--ready-fd",
        str(write_fd),
        "--secrets-fd",
        str(secrets_read),
    ]
    # The job's environment is kept (RUNNER_TRACKING_ID in it is how the Actions
    # runner finds and reaps the daemon when the job ends), but for its secrets:
    # their values go through the pipe, not into /proc/<daemon>/environ.
    handoff = json.dumps({"credential": secrets_token, "values": secret_values(environ)}).encode()
    env = without_secrets(environ)
    env[TOKEN_ENV] = token
    log_fd = os.open(paths.daemon_log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.fchmod(log_fd, FILE_MODE)  # an older log may have looser permissions
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            close_fds=True,
            pass_fds=(write_fd, secrets_read),
            start_new_session=True,
            env=env,
            cwd="/",
        )
    except OSError as exc:
        os.close(read_fd)
        os.close(secrets_write)
        raise StartupError(f"cannot start the session daemon: {exc.strerror}") from exc
    finally:
        os.close(write_fd)
        os.close(log_fd)
        os.close(secrets_read)
    hand_over(secrets_write, handoff)
    try:
        line = read_line(read_fd, ready_timeout_s)
    finally:
        os.close(read_fd)
    try:
        ready = json.loads(line) if line else None
    except ValueError:
        ready = None
    if not isinstance(ready, dict) or "endpoints" not in ready:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        why = "did not report ready in time" if line is None else "exited before it was ready"
        raise StartupError(
            f"the session daemon {why}; last lines of {paths.daemon_log_path}:\n"
            + log_tail(paths.daemon_log_path),
            hint="fix the cause above (a taken port, an unusable base dir) and start again",
        )
    # Not waited for: the daemon outlives this process by design.
    process.returncode = 0
    return ready


def hand_over(fd: int, data: bytes) -> None:
    """Write the secrets hand-off into the daemon's pipe and close it (the daemon reads
    it at once; a daemon that died first only costs the write)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def read_line(fd: int, timeout_s: float) -> str | None:
    """One line from ``fd``; "" on EOF without one, None on timeout."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").split("\n", 1)[0]


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "  (no log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:]) or "  (empty log)"


# --- env -------------------------------------------------------------------


def fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dotenv_quote(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("$", "\\$")
    )
    return f'"{escaped}"'


def format_exports(exports: Mapping[str, str], fmt: str) -> str:
    if fmt == "sh":
        return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in exports.items())
    if fmt == "fish":
        return "".join(f"set -gx {name} {fish_quote(value)}\n" for name, value in exports.items())
    if fmt == "dotenv":
        return "".join(f"{name}={dotenv_quote(value)}\n" for name, value in exports.items())
    if fmt == "json":
        return json.dumps(dict(exports)) + "\n"
    if fmt == "github":
        return "".join(github.env_file_block(name, value) for name, value in exports.items())
    raise UsageError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(EXPORT_FORMATS)}")


def require_state(paths: ArtifactPaths) -> SessionState:
    state = load_state(paths)
    if state is None:
        raise NoSessionError(
            f"no session in {paths.base_dir}",
            hint="start one with `beacon ci session start` (or pass the same --base-dir)",
        )
    return state


def live_state(paths: ArtifactPaths) -> SessionState:
    state = require_state(paths)
    if not is_ours(state):
        raise NoSessionError(
            f"the session daemon (pid {state.pid}) in {paths.base_dir} is not running",
            hint="run `beacon ci session stop` to process what it captured, then start again",
        )
    return state


# --- status ----------------------------------------------------------------


def session_status(paths: ArtifactPaths) -> dict[str, Any]:
    """The session's status; ``alive`` False when its daemon died (counts then from the spool)."""
    state = require_state(paths)
    alive = is_ours(state)
    live = fetch_status(state) if alive else None
    status: dict[str, Any] = {
        "alive": bool(alive and live is not None),
        "pid": state.pid,
        "session_id": state.session_id,
        "uptime_s": round(time.time() - state.started_unix, 3),
        "endpoints": state.endpoints,
        "protocol": state.protocol,
        "records": {"logs": 0, "metrics": 0, "traces": 0},
        "rejected": {"logs": 0, "metrics": 0, "traces": 0},
        "last_receive_at": None,
        "in_flight": 0,
    }
    if live is not None:
        for key in ("records", "rejected", "last_receive_at", "in_flight"):
            if key in live:
                status[key] = live[key]
        if "uptime_s" in live:
            status["uptime_s"] = live["uptime_s"]
        return status
    # Dead (or not answering): the last known counts are what its spool holds.
    status["problem"] = (
        f"session daemon died (pid {state.pid})"
        if not alive
        else f"the session daemon (pid {state.pid}) is not answering {state.status_url}"
    )
    status["records"] = spool_record_counts(Path(state.spool_path))
    status["records_from"] = "spool"
    status["next"] = (
        f"run `beacon ci session stop --base-dir {paths.base_dir}` to process what it "
        "captured, then `beacon ci session start` for a new session"
    )
    return status


def spool_record_counts(spool_path: Path) -> dict[str, int]:
    """Records per signal in a spool, counted as the collector counts them.

    beacon's own lifecycle records (scope ``beacon``) are not counted, as the
    collector does not count them either. A missing spool counts nothing.
    """
    from beacon.errors import SpoolError
    from beacon.spool import read_spool

    counts = {"logs": 0, "metrics": 0, "traces": 0}
    try:
        reader = read_spool(spool_path)
    except SpoolError:
        return counts
    containers = {
        "logs": ("resourceLogs", "scopeLogs", "logRecords"),
        "metrics": ("resourceMetrics", "scopeMetrics", "metrics"),
        "traces": ("resourceSpans", "scopeSpans", "spans"),
    }
    for record in reader:
        resources_key, scopes_key, items_key = containers[record.signal]
        for resource in record.payload.get(resources_key) or ():
            for scope in resource.get(scopes_key) or ():
                if (scope.get("scope") or {}).get("name") == "beacon":
                    continue
                items = scope.get(items_key) or ()
                if record.signal == "metrics":
                    counts["metrics"] += sum(_data_points(metric) for metric in items)
                else:
                    counts[record.signal] += len(items)
    return counts


def _data_points(metric: Mapping[str, Any]) -> int:
    for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
        data = metric.get(kind)
        if isinstance(data, dict):
            return len(data.get("dataPoints") or ())
    return 0


# --- stop ------------------------------------------------------------------


@dataclass(frozen=True)
class Stopped:
    state: SessionState
    result: RunResult
    daemon_was_alive: bool


#: After its drain, the daemon stops its receivers and closes the spool (fsync):
#: what a healthy daemon needs beyond ``--drain-max`` before stop kills it.
STOP_GRACE_S = 10.0


def stop_timeout_s(state: SessionState) -> float:
    """How long ``stop`` waits for the daemon: its own ``--drain-max`` plus the stop grace."""
    return max(state.drain_max_s, 0.0) + STOP_GRACE_S


def stop_session(
    paths: ArtifactPaths,
    environ: Mapping[str, str],
    settings: FinishSettings,
    *,
    say: Say,
    log_path: Path | None = None,
) -> Stopped | None:
    """None when there is nothing to stop."""
    state = load_state(paths)
    if state is None:
        return None
    finish_paths = ArtifactPaths.create(paths.base_dir, log_path or Path(state.log_path))
    # Before the daemon stops: with an unwritable log the session stays up for a retry.
    finish_paths.check_writable()
    running = process_alive(state.pid)
    alive = running and is_ours(state)
    harnesses = resolve_harnesses(state.harnesses)
    # Import the pipeline and compile its schema while the daemon drains.
    threading.Thread(
        target=_quiet_warm_up,
        args=(expects_agent_events(harnesses),),
        name="beacon-warm-up",
        daemon=True,
    ).start()
    secrets: list[str] = []
    if alive:
        secrets = session_secrets(state, say=say)
        stop_daemon(state, say=say)
    elif running:
        say(
            f"session daemon (pid {state.pid}) is gone: that pid now belongs to another "
            "process, which is left alone; processing what the daemon's spool holds"
        )
    else:
        say(f"session daemon (pid {state.pid}) is gone; processing what its spool holds")
    if not alive and state.secrets_token:
        say(
            "the secret values other steps gave the daemon died with it: only the "
            "built-in families and this step's own variables and --redact-env protect them"
        )
    own_spool = session_spool(finish_paths, state.session_id)
    recovered = recover_set_aside(
        finish_paths,
        harnesses=harnesses,
        settings=settings,
        environ=environ,
        tokens=known_tokens(paths),
        exclude={own_spool},
    )
    result = finish_run(
        paths=finish_paths,
        outcome=RunOutcome(
            session_id=state.session_id,
            collector_token=state.token,
            original_destination=state.original_destination,
        ),
        harnesses=harnesses,
        settings=settings,
        environ=environ,
        switches=state.switches(),
        spool_path=own_spool,
        recovered=recovered,
        say=say,
        secret_values=secrets,
    )
    remove_state(paths)
    return Stopped(state=state, result=result, daemon_was_alive=alive)


def session_secrets(state: SessionState, *, say: Say) -> list[str]:
    """The secret values other steps handed the daemon (empty for an older session)."""
    if not state.secrets_token:
        return []
    try:
        return fetch_session_secrets(state.http_base, state.secrets_token)
    except (OSError, ValueError):
        say(
            "could not fetch the secret values other steps gave the daemon: only the "
            "built-in families and this step's own variables and --redact-env protect them"
        )
        return []


def session_spool(paths: ArtifactPaths, session_id: str) -> Path:
    """This session's spool: ``spool/otlp.jsonl``, or where an exec set it aside.

    A spool at the usual path that another run wrote (a ``ci exec`` killed
    after the daemon died) is renamed aside, to be recovered under its own id.
    """
    spool = paths.spool_path
    if spool.exists():
        owner = spool_session_id(spool)
        if owner is None or owner == session_id:
            return spool
        set_aside(spool)
    for candidate in set_aside_spools(paths):
        if spool_session_id(candidate) == session_id:
            return candidate
    return spool


def _quiet_warm_up(rules: bool) -> None:
    with contextlib.suppress(Exception):
        warm_up_pipeline(rules=rules)


def stop_daemon(state: SessionState, *, say: Say) -> None:
    """Ask the daemon to drain and exit; escalate to signals when it does not.

    The caller has confirmed the pid is the daemon (``is_ours``). Signals then go
    through a pidfd, which names that very process: should it exit and its pid
    be reused meanwhile, nothing else is signalled. Without pidfds the start
    time is checked again before each signal.
    """
    handle = DaemonHandle.open(state)
    try:
        try:
            request(state, "/beacon/shutdown", method="POST", body=b"", timeout_s=2.0)
        except OSError:  # URLError and HTTPError are OSErrors
            handle.send(signal.SIGTERM)
        grace = stop_timeout_s(state)
        if wait_for_exit(state.pid, grace):
            say(f"session daemon (pid {state.pid}) stopped")
            return
        say(
            f"session daemon (pid {state.pid}) did not stop in {grace:g}s "
            f"(--drain-max {state.drain_max_s:g}s + {STOP_GRACE_S:g}s); killing it"
        )
        handle.send(signal.SIGKILL)
        wait_for_exit(state.pid, 5.0)
    finally:
        handle.close()


@dataclass
class DaemonHandle:
    """A confirmed daemon process, signalled through a pidfd where the kernel has them."""

    state: SessionState
    pidfd: int | None
    gone: bool = False

    @classmethod
    def open(cls, state: SessionState) -> DaemonHandle:
        pidfd: int | None = None
        with contextlib.suppress(OSError, AttributeError):
            pidfd = os.pidfd_open(state.pid)
        handle = cls(state, pidfd)
        # Checked again once the pidfd is held: it names the process whose start
        # time matches, not one that took the pid in between.
        if state.pid_start_time and not is_ours(state, ask=False):
            handle.gone = True
        return handle

    def send(self, signum: int) -> None:
        if self.gone:
            return
        with contextlib.suppress(ProcessLookupError):
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signum)
            elif not self.state.pid_start_time or is_ours(self.state, ask=False):
                os.kill(self.state.pid, signum)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def restore_values(state: SessionState) -> dict[str, str]:
    """What ``$GITHUB_ENV`` gets at stop: the job's values before start."""
    return {name: state.previous.get(name, "") for name in state.exports}
