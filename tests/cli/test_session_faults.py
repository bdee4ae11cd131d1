"""Session mode when the job goes wrong: dead daemons, reused PIDs, stranded spools, secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from beacon.run.state import process_alive

from .helpers import (
    CHILD,
    beacon,
    clean_env,
    last_json_line,
    start_waiting_exec,
    text_mentions,
    wait_for,
)
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


def _lines_by_session(log: Path) -> dict[str, list[dict[str, object]]]:
    runs: dict[str, list[dict[str, object]]] = {}
    for line in log.read_text().splitlines():
        parsed = json.loads(line)
        runs.setdefault(parsed["beacon"]["session_id"], []).append(parsed)
    return runs


def _bodies(lines: list[dict[str, object]]) -> list[str]:
    return [
        json.dumps(line)
        for line in lines
        if isinstance(line.get("harness"), dict) and line["harness"]["name"] != "beacon"  # type: ignore[index]
    ]


def test_a_dead_sessions_data_is_recovered_exactly_once(base: Path) -> None:
    info = start(base, "--harness", "otel")
    session_id = str(info["session_id"])
    env = session_env(base)
    step(env, "log:session-step-one", "log:session-step-two")  # acknowledged: exported OK
    kill_daemon(int(info["pid"]))  # type: ignore[call-overload]

    # The next step runs `ci exec`: it starts its own collector, which sets the
    # dead session's spool aside, and says who will process it.
    job = clean_env(BEACON_CI_BASE_DIR=str(base))
    exec_run = beacon(
        "ci", "exec", "--harness", "otel", "--json", "--", *CHILD, "log:exec-step", env=job
    )
    assert exec_run.returncode == 0, exec_run.stderr
    exec_id = last_json_line(exec_run.stdout)["session_id"]
    assert "session stop" in exec_run.stderr
    aside = list((base / "spool").glob("otlp.jsonl.*"))
    assert len(aside) == 1 and str(aside[0]) in exec_run.stderr

    stop = beacon("ci", "session", "stop", "--json", env=job)
    assert stop.returncode == 0, stop.stderr
    assert last_json_line(stop.stdout)["session_id"] == session_id

    runs = _lines_by_session(base / "runtime.jsonl")
    assert set(runs) == {session_id, exec_id}
    session_bodies = _bodies(runs[session_id])
    for body in ("session-step-one", "session-step-two"):
        assert sum(body in line for line in session_bodies) == 1, body
    assert not any("exec-step" in line for line in session_bodies)
    assert sum("exec-step" in line for line in _bodies(runs[exec_id])) == 1
    # Each run has exactly one summary line, and no raw spool is left.
    for lines in runs.values():
        assert [line["event"]["action"] for line in lines].count("session.summary") == 1  # type: ignore[index]
    assert [p.name for p in (base / "spool").iterdir() if p.name.startswith("otlp")] == []


def test_a_killed_execs_spool_is_recovered_by_the_next_exec(tmp_path: Path) -> None:
    # A `ci exec` killed before its finish leaves its raw spool behind.
    process, _ = start_waiting_exec(
        tmp_path, tmp_path, ("--harness", "otel"), "log:stranded", "hang"
    )
    # The child runs in its own process group: a SIGKILL of beacon does not reach it.
    child = int(Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()[0])
    try:
        wait_for(
            lambda: text_mentions(tmp_path / "spool" / "otlp.jsonl", '"stringValue":"stranded"'),
            what="the export to be spooled",
        )
    finally:
        process.kill()
        os.kill(child, signal.SIGKILL)  # it holds beacon's stdout open
        process.communicate()
    stranded_id = json.loads((tmp_path / "exec.json").read_text())["session_id"]

    after = beacon(
        "ci",
        "exec",
        "--base-dir",
        str(tmp_path),
        "--harness",
        "otel",
        "--json",
        "--",
        *CHILD,
        "log:next-run",
    )
    assert after.returncode == 0, after.stderr
    outcome = last_json_line(after.stdout)
    assert [entry["session_id"] for entry in outcome["recovered"]] == [stranded_id]
    assert "recovered run" in after.stderr
    runs = _lines_by_session(tmp_path / "runtime.jsonl")
    assert sum("stranded" in line for line in _bodies(runs[stranded_id])) == 1
    assert sum("next-run" in line for line in _bodies(runs[outcome["session_id"]])) == 1
    assert [p.name for p in (tmp_path / "spool").iterdir() if p.name.startswith("otlp")] == []

    # A third run finds nothing left to recover.
    third = beacon(
        "ci",
        "exec",
        "--base-dir",
        str(tmp_path),
        "--harness",
        "otel",
        "--json",
        "--",
        *CHILD,
        "log:third",
    )
    assert third.returncode == 0, third.stderr
    assert "recovered" not in last_json_line(third.stdout)


# Secret-named, secret-looking, and matched by no built-in family: only the
# literal value the session start step saw can redact it.
START_ONLY_SECRET = "qZ7vX2mL9pW4tR8yK3nB6hC1jD5fG0sAe"
EXEC_ONLY_SECRET = "Lk4mN8pQ2rS6tV0wX3yZ7aB1cD5eF9gHi"


def test_a_secret_seen_only_by_session_start_is_redacted_at_stop(base: Path) -> None:
    import urllib.error
    import urllib.request

    start(base, "--harness", "otel", env=clean_env(DEPLOY_SERVICE_TOKEN=START_ONLY_SECRET))
    state = json.loads((base / "session.json").read_text())
    env = session_env(base)
    assert "DEPLOY_SERVICE_TOKEN" not in env
    # A later agent step leaks it (it read it from a file, a log, a tool's output).
    step(env, f"log:the deploy token is {START_ONLY_SECRET}")
    # A step that joins through `ci exec` has a secret of its own, and leaks it too.
    joined = beacon(
        "ci",
        "exec",
        "--",
        *CHILD,
        "logenv:RELEASE_API_KEY",
        env={**env, "RELEASE_API_KEY": EXEC_ONLY_SECRET},
    )
    assert joined.returncode == 0, joined.stderr

    # The agent's OTLP token cannot fetch the secrets; the channel's own credential can.
    url = state["status_url"].replace("/beacon/status", "/beacon/secrets")
    headers = env["OTEL_EXPORTER_OTLP_HEADERS"]
    otlp_token = state["token"]
    assert otlp_token in headers and state["secrets_token"] not in json.dumps(env)
    for credential in (otlp_token, ""):
        denied = urllib.request.Request(  # noqa: S310 - loopback
            url, headers={"authorization": f"Bearer {credential}"}
        )
        try:
            urllib.request.urlopen(denied, timeout=5)  # noqa: S310 - loopback
            raise AssertionError("the secrets were served without the channel's credential")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
    allowed = urllib.request.Request(  # noqa: S310 - loopback
        url, headers={"authorization": f"Bearer {state['secrets_token']}"}
    )
    with urllib.request.urlopen(allowed, timeout=5) as response:  # noqa: S310 - loopback
        assert START_ONLY_SECRET in response.read().decode()
    # Never on disk: neither the state files nor the daemon's environment hold it.
    for path in (base / "session.json", base / "session.env", base / "daemon.log"):
        assert START_ONLY_SECRET not in path.read_text(), path
    daemon_environ = Path(f"/proc/{state['pid']}/environ").read_bytes()
    assert START_ONLY_SECRET.encode() not in daemon_environ

    stop = beacon("ci", "session", "stop", "--json", env=clean_env(BEACON_CI_BASE_DIR=str(base)))
    assert stop.returncode == 0, stop.stderr
    log = (base / "runtime.jsonl").read_text()
    assert "the deploy token is" in log and "RELEASE_API_KEY is" in log
    for path in base.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert START_ONLY_SECRET.encode() not in text, path
            assert EXEC_ONLY_SECRET.encode() not in text, path
    assert START_ONLY_SECRET not in stop.stdout + stop.stderr


def test_an_execs_kept_spool_is_never_processed_twice(base: Path) -> None:
    info = start(base, "--harness", "otel")
    session_id = str(info["session_id"])
    env = session_env(base)
    step(env, "log:from-the-session")
    kill_daemon(int(info["pid"]))  # type: ignore[call-overload]
    job = clean_env(BEACON_CI_BASE_DIR=str(base))
    # An exec whose validation fails keeps its (processed) spool for troubleshooting.
    failed = beacon(
        "ci",
        "exec",
        "--harness",
        "otel",
        "--min-events",
        "5",
        "--json",
        "--",
        *CHILD,
        "log:from-the-exec",
        env=job,
    )
    assert failed.returncode == 3, failed.stderr
    exec_result = last_json_line(failed.stdout)
    kept = Path(exec_result["spool_path"])
    assert kept.exists()

    stop = beacon("ci", "session", "stop", "--json", env=job)
    assert stop.returncode == 0, stop.stderr
    runs = _lines_by_session(base / "runtime.jsonl")
    assert set(runs) == {session_id, exec_result["session_id"]}
    everything = [line for lines in runs.values() for line in _bodies(lines)]
    assert sum("from-the-exec" in line for line in everything) == 1
    assert sum("from-the-session" in line for line in everything) == 1
    assert not any("from-the-exec" in line for line in _bodies(runs[session_id]))
