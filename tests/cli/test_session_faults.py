"""Session mode when the job goes wrong: dead daemons, reused PIDs, stranded spools, secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from beacon.run.state import process_alive

from .helpers import beacon, clean_env, last_json_line, wait_for
from .test_session import base, start, step

__all__ = ["base"]  # the fixture, used by name


def session_env(base: Path) -> dict[str, str]:
    env = clean_env(BEACON_CI_BASE_DIR=str(base))
    exports = json.loads(
        beacon("ci", "session", "env", "--format", "json", env=env, check=True).stdout
    )
    return {**env, **exports}


def kill_daemon(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process_alive(pid), what="the daemon to die")


def test_status_of_a_dead_daemon_exits_6_with_its_last_counts(base: Path) -> None:
    info = start(base, "--harness", "otel")
    env = session_env(base)
    step(env, "log:one", "log:two")
    alive = beacon("ci", "session", "status", "--json", env=env)
    assert alive.returncode == 0, alive.stderr
    assert last_json_line(alive.stdout)["records"]["logs"] == 2

    kill_daemon(int(info["pid"]))  # type: ignore[call-overload]
    dead = beacon("ci", "session", "status", "--json", env=env)
    assert dead.returncode == 6, dead.stderr
    assert "daemon died" in dead.stderr
    assert "beacon ci session stop" in dead.stderr  # what to run next
    status = last_json_line(dead.stdout)
    assert status["alive"] is False
    assert status["records"] == {"logs": 2, "metrics": 0, "traces": 0}
    assert status["records_from"] == "spool"

    human = beacon("ci", "session", "status", env=env)
    assert human.returncode == 6
    assert "daemon died" in human.stderr and "logs 2" in human.stderr
    assert "Traceback" not in human.stderr


def test_stop_waits_as_long_as_the_sessions_own_drain_may_take(base: Path) -> None:
    # The daemon waits for 12 s without exports before it stops: longer than the
    # fixed 10 s stop used to give it, within its --drain-max.
    start(base, "--harness", "otel", "--drain-quiet", "12s", "--drain-max", "13s")
    env = session_env(base)
    step(env, "log:just before stop")
    stop = beacon("ci", "session", "stop", "--json", env=env, timeout=90)
    assert stop.returncode == 0, stop.stderr
    assert "killing it" not in stop.stderr
    assert "stopped" in stop.stderr
    log = (base / "runtime.jsonl").read_text()
    # The daemon finished its own stop: its drain and stop records are there.
    assert "beacon.drain.completed" in log and "beacon.collector.stopped" in log
    assert "just before stop" in log


def test_a_reused_pid_is_never_signalled(base: Path) -> None:
    info = start(base, "--harness", "otel")
    env = session_env(base)
    step(env, "log:before the daemon died")
    kill_daemon(int(info["pid"]))  # type: ignore[call-overload]
    # An unrelated process now holds the pid session.json names (as after pid reuse).
    stranger = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        state = json.loads((base / "session.json").read_text())
        state["pid"] = stranger.pid
        (base / "session.json").write_text(json.dumps(state))

        status = beacon("ci", "session", "status", "--json", env=env)
        assert status.returncode == 6, status.stderr
        assert "daemon died" in status.stderr

        stop = beacon("ci", "session", "stop", "--json", env=env)
        assert stop.returncode == 0, stop.stderr
        assert "another process" in stop.stderr
        assert stranger.poll() is None, "stop signalled a process that is not the daemon"
        assert "before the daemon died" in (base / "runtime.jsonl").read_text()
    finally:
        stranger.kill()
        stranger.wait()


def test_start_over_a_reused_pid_replaces_the_state_and_leaves_the_process(base: Path) -> None:
    info = start(base)
    kill_daemon(int(info["pid"]))  # type: ignore[call-overload]
    stranger = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        state = json.loads((base / "session.json").read_text())
        state["pid"] = stranger.pid
        (base / "session.json").write_text(json.dumps(state))
        again = beacon("ci", "session", "start", "--base-dir", str(base), "--json")
        assert again.returncode == 0, again.stderr
        assert "stale" in again.stderr
        assert stranger.poll() is None
        stop = beacon("ci", "session", "stop", "--base-dir", str(base), "--no-require-telemetry")
        assert stop.returncode == 0, stop.stderr
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
