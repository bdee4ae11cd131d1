"""Session mode when the job goes wrong: dead daemons, reused PIDs, stranded spools, secrets."""

from __future__ import annotations

import json
import os
import signal
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
