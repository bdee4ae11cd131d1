"""`beacon ci session start|env|status|stop` as a multi-step CI job would run them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from beacon.ci.github import parse_env_file
from beacon.run.state import process_alive

from .helpers import (
    BEACON,
    CHILD,
    beacon,
    clean_env,
    last_json_line,
    require_shell,
    runtime_lines,
    start_waiting_exec,
    wait_for,
)


def session_pid(base: Path) -> int:
    return int(json.loads((base / "session.json").read_text())["pid"])


@pytest.fixture
def base(tmp_path: Path) -> Iterator[Path]:
    """A base dir whose daemon, if any is left, is killed at teardown."""
    directory = tmp_path / "beacon"
    yield directory
    state = directory / "session.json"
    if state.exists():
        pid = session_pid(directory)
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def start(base: Path, *options: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = beacon(
        "ci", "session", "start", "--base-dir", str(base), "--json", *options, env=env, check=True
    )
    return last_json_line(result.stdout)


def step(env: dict[str, str], *actions: str) -> None:
    """One workflow step: a fresh process with the given environment."""
    subprocess.run([*CHILD, *actions], env=env, check=True, timeout=60)


def test_start_steps_stop_on_github_actions(tmp_path: Path, base: Path) -> None:
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    job = clean_env(
        GITHUB_ACTIONS="true",
        GITHUB_ENV=str(github_env),
        OTEL_EXPORTER_OTLP_ENDPOINT="https://collector.corp.invalid:4318",
    )
    result = beacon(
        "ci", "session", "start", "--base-dir", str(base), "--harness", "otel", env=job, check=True
    )
    state = json.loads((base / "session.json").read_text())
    token = state["token"]
    # The mask comes first, before the token can appear anywhere else.
    assert result.stdout.splitlines()[0] == f"::add-mask::{token}"
    exported = parse_env_file(github_env.read_text())
    assert exported["OTEL_EXPORTER_OTLP_ENDPOINT"] == state["endpoints"]["http"]
    assert exported["BEACON_CI_BASE_DIR"] == str(base)
    assert exported["BEACON_CI_STATE_PATH"] == str(base / "session.json")
    assert exported["BEACON_CI_LOG_PATH"] == str(base / "runtime.jsonl")
    assert state["original_destination"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
        "https://collector.corp.invalid:4318"
    )
    for path in (base / "session.json", base / "session.env", base / "daemon.log"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert base.stat().st_mode & 0o777 == 0o700

    # Step 1: the runner's way: GITHUB_ENV applied on top of the job environment.
    step({**job, **exported}, "log:step-one")
    # Step 2: a fresh shell that sources session.env.
    subprocess.run(
        ["bash", "-c", f'. "{base}/session.env" && exec "$@"', "step2", *CHILD, "log:step-two"],
        env=job,
        check=True,
        timeout=60,
    )
    # Step 3: eval "$(beacon ci session env)" finds the session through BEACON_CI_BASE_DIR.
    subprocess.run(
        [
            "bash",
            "-c",
            f'eval "$("{BEACON}" ci session env)" && exec "$@"',
            "s3",
            *CHILD,
            "log:step-three",
        ],
        env={**job, "BEACON_CI_BASE_DIR": str(base)},
        check=True,
        timeout=60,
    )
    status = beacon("ci", "session", "status", "--json", env={**job, **exported}, check=True)
    info = last_json_line(status.stdout)
    assert info["alive"] is True
    assert info["records"]["logs"] >= 3

    stop = beacon("ci", "session", "stop", "--json", env={**job, **exported})
    assert stop.returncode == 0, stop.stderr
    outcome = last_json_line(stop.stdout)
    assert outcome["session_id"] == state["session_id"]
    assert outcome["validation"]["status"] in ("ok", "warn")
    text = (base / "runtime.jsonl").read_text()
    for body in ("step-one", "step-two", "step-three"):
        assert body in text
    assert not (base / "session.json").exists()
    wait_for(lambda: not process_alive(state["pid"]), what="the daemon to exit")

    # stop restored what the job had before start; the rest is emptied.
    restored = parse_env_file(github_env.read_text())
    assert restored["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://collector.corp.invalid:4318"
    assert restored["OTEL_EXPORTER_OTLP_HEADERS"] == ""
    assert restored["BEACON_CI_BASE_DIR"] == ""
    assert token not in "".join(f"{k}={v}" for k, v in restored.items())


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh"])
def test_eval_env_in_posix_shells(tmp_path: Path, base: Path, shell: str) -> None:
    require_shell(shell)
    tricky = 'team=it\'s "quoted" $HOME `uname` \\ back'
    job = clean_env(OTEL_RESOURCE_ATTRIBUTES=tricky)
    start(base, env=job)
    expected = json.loads(
        beacon(
            "ci", "session", "env", "--base-dir", str(base), "--format", "json", check=True
        ).stdout
    )
    assert isinstance(expected, dict) and all(isinstance(v, str) for v in expected.values())
    assert expected["OTEL_RESOURCE_ATTRIBUTES"].startswith(tricky + ",")
    script = (
        f'eval "$("{BEACON}" ci session env --base-dir "{base}")" && '
        f'"{CHILD[0]}" -c "import json, os; print(json.dumps(dict(os.environ)))"'
    )
    out = subprocess.run(
        [shell, "-c", script], env=job, capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(out.stdout)
    assert {name: seen.get(name) for name in expected} == expected


def test_fish_and_dotenv_formats(base: Path) -> None:
    require_shell("fish")
    start(base, env=clean_env(OTEL_RESOURCE_ATTRIBUTES='a=it\'s \\ "x" $y'))
    expected = json.loads(
        beacon("ci", "session", "env", "--base-dir", str(base), "--format", "json").stdout
    )
    fish = beacon("ci", "session", "env", "--base-dir", str(base), "--format", "fish").stdout
    out = subprocess.run(
        [
            "fish",
            "-c",
            fish + f'\n"{CHILD[0]}" -c "import json,os; print(json.dumps(dict(os.environ)))"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=clean_env(),
    )
    seen = json.loads(out.stdout)
    assert {name: seen.get(name) for name in expected} == expected
    dotenv = beacon("ci", "session", "env", "--base-dir", str(base), "--format", "dotenv").stdout
    assert 'OTEL_RESOURCE_ATTRIBUTES="a=it\'s \\\\ \\"x\\" \\$y,' in dotenv
    github = beacon("ci", "session", "env", "--base-dir", str(base), "--format", "github").stdout
    assert parse_env_file(github) == expected


def test_start_twice_fails_unless_reuse(base: Path) -> None:
    first = start(base)
    again = beacon("ci", "session", "start", "--base-dir", str(base))
    assert again.returncode == 5
    assert "already running" in again.stderr and "--reuse" in again.stderr
    reused = start(base, "--reuse")
    assert reused["session_id"] == first["session_id"]
    assert reused["reused"] is True


def test_stop_twice_says_nothing_to_stop(base: Path) -> None:
    start(base, "--harness", "otel")
    first = beacon("ci", "session", "stop", "--base-dir", str(base), "--no-require-telemetry")
    assert first.returncode == 0, first.stderr
    second = beacon("ci", "session", "stop", "--base-dir", str(base))
    assert second.returncode == 0
    assert "nothing to stop" in second.stderr


def test_stop_after_kill_9_still_yields_the_spooled_data(base: Path) -> None:
    info = start(base, "--harness", "otel")
    env = clean_env(BEACON_CI_BASE_DIR=str(base))
    exports = json.loads(beacon("ci", "session", "env", "--format", "json", env=env).stdout)
    step({**env, **exports}, "log:before-the-crash")
    pid = int(info["pid"])  # type: ignore[call-overload]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process_alive(pid), what="the daemon to die")
    status = beacon("ci", "session", "status", "--json", env=env)
    assert last_json_line(status.stdout)["alive"] is False
    stop = beacon("ci", "session", "stop", "--json", env=env)
    assert stop.returncode == 0, stop.stderr
    assert "is gone" in stop.stderr
    assert "before-the-crash" in (base / "runtime.jsonl").read_text()


def test_stale_state_from_a_zombie_daemon_is_replaced(tmp_path: Path, base: Path) -> None:
    start(base)
    # A daemon killed where nobody reaps it stays a zombie: kill(pid, 0) still works.
    zombie = subprocess.Popen(["sleep", "600"])
    try:
        zombie.send_signal(signal.SIGKILL)
        stat = Path(f"/proc/{zombie.pid}/stat")
        wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", what="a zombie")
        old_daemon = session_pid(base)
        os.kill(old_daemon, signal.SIGKILL)
        wait_for(lambda: not process_alive(old_daemon), what="the old daemon to die")
        state = json.loads((base / "session.json").read_text())
        state["pid"] = zombie.pid
        (base / "session.json").write_text(json.dumps(state))
        result = beacon("ci", "session", "start", "--base-dir", str(base), "--json")
        assert result.returncode == 0, result.stderr
        assert "stale" in result.stderr
        assert last_json_line(result.stdout)["session_id"] != state["session_id"]
    finally:
        zombie.wait()


def test_max_duration_ends_the_daemon(base: Path) -> None:
    info = start(base, "--max-duration", "1s", "--harness", "otel")
    pid = int(info["pid"])  # type: ignore[call-overload]
    wait_for(lambda: not process_alive(pid), timeout=20, what="the daemon to exit by itself")
    assert "--max-duration" in (base / "daemon.log").read_text()
    stop = beacon("ci", "session", "stop", "--base-dir", str(base), "--require-telemetry=false")
    assert stop.returncode == 0, stop.stderr


def test_daemon_ignores_sighup(base: Path) -> None:
    info = start(base)
    pid = int(info["pid"])  # type: ignore[call-overload]
    os.kill(pid, signal.SIGHUP)
    status = beacon("ci", "session", "status", "--base-dir", str(base), "--json")
    assert last_json_line(status.stdout)["alive"] is True


def test_no_session_exits_6(base: Path) -> None:
    for command in ("status", "env"):
        result = beacon("ci", "session", command, "--base-dir", str(base))
        assert result.returncode == 6, command
        assert "session start" in result.stderr


def test_exec_joins_a_live_session(base: Path) -> None:
    info = start(base, "--harness", "otel")
    env = clean_env(BEACON_CI_BASE_DIR=str(base))
    joined = beacon("ci", "exec", "--json", "--", *CHILD, "log:from-exec", "exit:3", env=env)
    assert joined.returncode == 3, joined.stderr
    assert "joining session" in joined.stderr
    assert last_json_line(joined.stdout)["session_id"] == info["session_id"]
    # Nothing was validated yet; it happens at stop, in the session's own log.
    assert not (base / "runtime.jsonl").exists()
    stop = beacon("ci", "session", "stop", "--json", env=env)
    assert stop.returncode == 0, stop.stderr
    lines = runtime_lines(base / "runtime.jsonl")
    text = json.dumps(lines)
    assert "from-exec" in text
    assert "child.exited" in text
    assert {line["beacon"]["session_id"] for line in lines} == {info["session_id"]}


def test_aliases_start_and_finish(base: Path) -> None:
    result = beacon("ci", "start", "--base-dir", str(base), "--harness", "otel", "--json")
    assert result.returncode == 0, result.stderr
    finish = beacon("ci", "finish", "--base-dir", str(base), "--no-require-telemetry")
    assert finish.returncode == 0, finish.stderr
    assert not (base / "session.json").exists()


def test_grpc_session(base: Path) -> None:
    start(base, "--protocol", "grpc", "--harness", "otel")
    env = clean_env(BEACON_CI_BASE_DIR=str(base))
    exports = json.loads(beacon("ci", "session", "env", "--format", "json", env=env).stdout)
    assert exports["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    step({**env, **exports}, "log:over-grpc")
    joined = beacon("ci", "exec", "--", *CHILD, "log:exec-over-grpc", env=env)
    assert joined.returncode == 0, joined.stderr
    stop = beacon("ci", "session", "stop", env=env)
    assert stop.returncode == 0, stop.stderr
    text = (base / "runtime.jsonl").read_text()
    assert "over-grpc" in text and "exec-over-grpc" in text
    # exec's lifecycle records reached the session over OTLP/HTTP.
    assert "child.exited" in text


def test_session_start_is_refused_while_an_exec_runs(tmp_path: Path, base: Path) -> None:
    running, _ = start_waiting_exec(
        base,
        tmp_path,
        ("--no-require-telemetry",),
        "waitsig:{got}",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        refused = beacon("ci", "session", "start", "--base-dir", str(base))
        assert refused.returncode == 5
        assert "`beacon ci exec`" in refused.stderr
        running.send_signal(signal.SIGTERM)
        running.wait(timeout=15)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()


def test_exec_warns_about_a_dead_session(base: Path) -> None:
    info = start(base, "--harness", "otel")
    pid = int(info["pid"])  # type: ignore[call-overload]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process_alive(pid), what="the daemon to die")
    result = beacon("ci", "exec", "--base-dir", str(base), "--no-require-telemetry", "--", *CHILD)
    assert result.returncode == 0, result.stderr
    assert "died without" in result.stderr
