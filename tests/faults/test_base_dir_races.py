"""Two runs racing for one base dir: concurrent `session start`s, start against `ci exec`.

Without a lock every `session start` found no live session and spawned its own
daemon: four daemons wrote the same spool path (each renaming the previous one's
file aside), and session.json named whichever wrote last.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beacon.run.state import process_alive
from tests.cli.helpers import (
    BEACON,
    CHILD,
    beacon,
    clean_env,
    last_json_line,
    runtime_lines,
    wait_for,
)

pytestmark = pytest.mark.faults

STARTS = 4


def daemons_of(base: Path) -> list[int]:
    """Live session daemons whose spool is in ``base`` (from /proc cmdlines)."""
    spool = str(base / "spool" / "otlp.jsonl").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"beacon.run.daemon" in argv and spool in argv and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def lock_held(base: Path) -> bool:
    """Whether a beacon holds the base dir's lock now (a non-blocking try)."""
    try:
        fd = os.open(base / "beacon.lock", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock this try took
    return False


@pytest.fixture
def base(tmp_path: Path) -> Iterator[Path]:
    """A base dir whose daemons, however many, are killed at teardown."""
    directory = tmp_path / "beacon"
    yield directory
    for pid in daemons_of(directory):
        os.kill(pid, signal.SIGKILL)


def start_command(base: Path, *options: str) -> list[str]:
    return [BEACON, "ci", "session", "start", "--base-dir", str(base), "--json", *options]


def started_together(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Every command started before any is waited for; their results in order."""
    processes = [
        subprocess.Popen(
            command,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    results = []
    for process, command in zip(processes, commands, strict=True):
        try:
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return results


def test_concurrent_session_starts_leave_exactly_one_daemon(base: Path) -> None:
    began = time.monotonic()
    results = started_together([start_command(base, "--harness", "otel")] * STARTS)
    elapsed = time.monotonic() - began
    winners = [r for r in results if r.returncode == 0]
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
    for loser in losers:
        assert loser.returncode == 5, loser.stderr
        assert "already running" in loser.stderr, loser.stderr
        assert "Traceback" not in loser.stderr
    started = last_json_line(winners[0].stdout)
    state = json.loads((base / "session.json").read_text())
    assert (state["pid"], state["session_id"]) == (started["pid"], started["session_id"])
    # Exactly one daemon, the one session.json names (a losing start never spawned one).
    assert daemons_of(base) == [state["pid"]]

    # The session works: a step exports through it, stop writes one run.
    step = beacon(
        "ci", "exec", "--base-dir", str(base), "--", *CHILD, "log:after the race", check=True
    )
    assert "joining session" in step.stderr
    stop = beacon("ci", "session", "stop", "--base-dir", str(base), "--json", check=True)
    result = last_json_line(stop.stdout)
    assert result["session_id"] == state["session_id"]
    assert result["exit_code"] == 0
    lines = runtime_lines(base / "runtime.jsonl")
    assert {line["beacon"]["session_id"] for line in lines} == {state["session_id"]}
    assert "after the race" in json.dumps(lines)
    assert "recovered" not in result  # no other daemon's spool was left to recover
    wait_for(lambda: daemons_of(base) == [], what="the daemon to exit")
    assert sorted(p.name for p in (base / "spool").iterdir()) == ["processed-sessions"]
    print(f"\n{STARTS} concurrent session starts: 1 started, {len(losers)} refused, {elapsed:.2f}s")


def test_concurrent_reuse_starts_share_one_session(base: Path) -> None:
    results = started_together([start_command(base, "--harness", "otel", "--reuse")] * STARTS)
    assert [r.returncode for r in results] == [0] * STARTS, [r.stderr for r in results]
    outputs = [last_json_line(r.stdout) for r in results]
    assert len({o["session_id"] for o in outputs}) == 1
    assert sorted(o["reused"] for o in outputs) == [False] + [True] * (STARTS - 1)
    assert daemons_of(base) == [outputs[0]["pid"]]
    beacon("ci", "session", "stop", "--base-dir", str(base), "--no-require-telemetry", check=True)


@pytest.mark.parametrize(
    "first", ["exec", "start", None], ids=["exec-first", "start-first", "together"]
)
def test_session_start_and_exec_racing_one_base_dir(
    base: Path, tmp_path: Path, first: str | None
) -> None:
    """Whichever claims the base dir first owns it; the other adapts or is refused.

    Either the exec came first (the start is refused: exit 5, "a `beacon ci exec`
    ... is running"), or the session did (the exec joins it and stop writes the
    step's record). Never both collectors writing one spool. "together": both
    launched at once, the exec with gRPC, whose server is up before exec.json is
    written (the widest window between an exec's check and its claim).
    """
    ready = tmp_path / "ready"
    release = tmp_path / "release"
    exec_command = [
        BEACON,
        *("ci", "exec", "--base-dir", str(base), "--harness", "otel", "--json"),
        *("--protocol", "grpc" if first is None else "http/protobuf", "--"),
        *CHILD,
        "log:the exec's record",
        f"ready:{ready}",
        f"waitfile:{release}",
    ]
    commands = {"exec": exec_command, "start": start_command(base, "--harness", "otel")}
    claimed = {"exec": base / "exec.json", "start": base / "session.json"}
    launched = {}
    for name in [first, *(n for n in commands if n != first)] if first else list(commands):
        launched[name] = subprocess.Popen(
            commands[name],
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if name == first:
            # The second comes while the first decides (holds the lock) or just after.
            wait_for(
                lambda claim=claimed[name]: lock_held(base) or claim.exists(),
                timeout=60,
                what=f"the {name} to claim the base dir",
            )
    run, starting = launched["exec"], launched["start"]
    processes = list(launched.values())
    try:
        start_out, start_err = starting.communicate(timeout=120)
        wait_for(ready.exists, timeout=60, what="the exec's child")
        release.touch()
        exec_out, exec_err = run.communicate(timeout=120)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert run.returncode == 0, exec_err
    if starting.returncode == 0:
        session = last_json_line(start_out)["session_id"]
        assert "joining session" in exec_err, exec_err
        stop = beacon("ci", "session", "stop", "--base-dir", str(base), "--json", check=True)
        assert last_json_line(stop.stdout)["session_id"] == session
        winner = "session"
    else:
        assert starting.returncode == 5, start_err
        assert "`beacon ci exec`" in start_err and "is running" in start_err, start_err
        session = last_json_line(exec_out)["session_id"]
        assert daemons_of(base) == []
        winner = "exec"
    lines = runtime_lines(base / "runtime.jsonl")
    assert {line["beacon"]["session_id"] for line in lines} == {session}
    assert "the exec's record" in json.dumps(lines)
    print(f"\nsession start racing ci exec ({first or 'together'}): the {winner} owned the dir")


def test_exec_while_a_session_is_live_joins_it(base: Path) -> None:
    started = last_json_line(
        beacon(*start_command(base, "--harness", "otel")[1:], check=True).stdout
    )
    step = beacon(
        "ci", "exec", "--base-dir", str(base), "--json", "--", *CHILD, "log:a step", check=True
    )
    assert f"joining session {started['session_id']}" in step.stderr
    assert last_json_line(step.stdout)["validation"] is None  # validated at stop
    assert not (base / "exec.json").exists()
    assert daemons_of(base) == [started["pid"]]
    stop = beacon("ci", "session", "stop", "--base-dir", str(base), "--json", check=True)
    assert last_json_line(stop.stdout)["session_id"] == started["session_id"]
    assert "a step" in (base / "runtime.jsonl").read_text()
