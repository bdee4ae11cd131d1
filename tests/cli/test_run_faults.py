"""`ci exec` when the job goes wrong: a torn log, an unwritable path, wrapped children."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from beacon.run.state import process_alive

from .helpers import BEACON, CHILD, beacon, clean_env, last_json_line, signal_and_wait, wait_for


def exec_args(base: Path, *options: str) -> list[str]:
    return ["ci", "exec", "--base-dir", str(base), "--harness", "otel", "--json", *options, "--"]


def test_a_torn_log_line_never_fails_later_runs(tmp_path: Path) -> None:
    first = beacon(*exec_args(tmp_path), *CHILD, "log:first run")
    assert first.returncode == 0, first.stderr
    log = tmp_path / "runtime.jsonl"
    data = log.read_bytes()
    log.write_bytes(data[:-40])  # a kill during a write: the last line loses its end

    second = beacon(*exec_args(tmp_path), *CHILD, "log:second run")
    third = beacon(*exec_args(tmp_path), *CHILD, "log:third run")

    assert second.returncode == 0, second.stderr
    assert third.returncode == 0, third.stderr
    # The repair is reported once, by the run that made it.
    assert "torn line" in second.stderr and "torn line" not in third.stderr
    second_result = last_json_line(second.stdout)
    assert any("torn line" in w for w in second_result["warnings"])
    assert "warnings" not in last_json_line(third.stdout)
    assert json.loads((tmp_path / "result.json").read_text()) == last_json_line(third.stdout)
    # Other runs' damage is a warning that names it, never this run's failure.
    for result in (second_result, last_json_line(third.stdout)):
        stages = {s["name"]: s for s in result["validation"]["stages"]}
        assert stages["lines_parse"]["status"] == "warn"
        assert "not this run's" in stages["lines_parse"]["message"]
    # Only the torn line is unreadable; every line of the later runs parses.
    raw = log.read_bytes().split(b"\n")
    assert raw[-1] == b""
    torn = data[:-40].split(b"\n")[-1]
    unreadable = [line for line in raw[:-1] if not _parses(line)]
    assert unreadable == [torn]
    readable = [json.loads(line) for line in raw[:-1] if _parses(line)]
    for result, body in (
        (second_result, "second run"),
        (last_json_line(third.stdout), "third run"),
    ):
        own = [line for line in readable if line["beacon"]["session_id"] == result["session_id"]]
        assert any(body in json.dumps(line) for line in own)
        assert own[-1]["event"]["action"] == "session.summary"


def _parses(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_the_first_line_after_a_tear_is_not_glued_to_it(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(b'{"half": "a li')  # the only line, torn
    result = beacon(*exec_args(tmp_path), *CHILD, "log:after the tear")
    assert result.returncode == 0, result.stderr
    torn, first, *_ = log.read_bytes().split(b"\n")
    assert torn == b'{"half": "a li'
    assert json.loads(first)["beacon"]["session_id"] == last_json_line(result.stdout)["session_id"]


def test_an_unwritable_log_path_is_refused_before_the_child_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be\n")
    log_path = blocker / "runtime.jsonl"
    ran = tmp_path / "child-ran"
    result = beacon(
        *exec_args(tmp_path / "base", "--log-path", str(log_path)), *CHILD, f"ready:{ran}"
    )
    assert result.returncode == 5, result.stderr
    assert str(log_path) in result.stderr
    assert "Traceback" not in result.stderr
    assert not ran.exists()  # refused before the agent could do its work


def test_a_log_path_that_is_a_directory_is_refused_before_the_child_runs(tmp_path: Path) -> None:
    log_path = tmp_path / "runtime.jsonl"
    log_path.mkdir()
    ran = tmp_path / "child-ran"
    result = beacon(*exec_args(tmp_path, "--log-path", str(log_path)), *CHILD, f"ready:{ran}")
    assert result.returncode == 5, result.stderr
    assert str(log_path) in result.stderr and "Is a directory" in result.stderr
    assert not ran.exists()


def test_an_unusable_base_dir_is_refused_before_the_child_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ran = tmp_path / "child-ran"
    result = beacon(*exec_args(blocker / "beacon"), *CHILD, f"ready:{ran}")
    assert result.returncode == 5, result.stderr
    assert str(blocker / "beacon") in result.stderr
    assert not ran.exists()


def test_the_checks_leave_no_file_behind(tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "runtime.jsonl"
    result = beacon(*exec_args(tmp_path / "base", "--log-path", str(log_path)), *CHILD, "exit:3")
    assert result.returncode == 3
    # The base dir holds no probe, and the log only this run's lines.
    assert [p.name for p in (tmp_path / "base").iterdir() if p.name.startswith(".")] == []
    session = last_json_line(result.stdout)["session_id"]
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert lines and all(line["beacon"]["session_id"] == session for line in lines)


def test_when_the_pipeline_still_fails_the_kept_spool_is_named(tmp_path: Path) -> None:
    # The log becomes unwritable while the child runs (after the checks).
    log_path = tmp_path / "runtime.jsonl"
    result = beacon(
        *exec_args(tmp_path),
        "bash",
        "-c",
        f'"$@" && mkdir {log_path}',
        "sh",
        *CHILD,
        "log:captured before the failure",
    )
    assert result.returncode == 5, result.stderr
    spool = tmp_path / "spool" / "otlp.jsonl"
    assert spool.exists()
    assert f"spool is kept at {spool}" in result.stderr
    outcome = last_json_line(result.stdout)
    assert outcome["spool_path"] == str(spool)
    assert "captured before the failure" in spool.read_text()


def _wrapper_with_grandchild(pid_file: Path, grandchild: str) -> list[str]:
    """``bash -c`` starting ``grandchild`` in the background, as agent wrappers do."""
    return ["bash", "-c", f"{grandchild} & echo $! > {pid_file}; wait", "wrapper"]


def _wait_for_pid(pid_file: Path) -> int:
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", what="a pid")
    return int(pid_file.read_text())


def test_timeout_ends_the_wrappers_grandchildren(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    result = beacon(
        *exec_args(tmp_path, "--timeout", "1s", "--no-require-telemetry"),
        *_wrapper_with_grandchild(pid_file, "sleep 600"),
    )
    assert result.returncode == 124, result.stderr
    grandchild = _wait_for_pid(pid_file)
    assert not process_alive(grandchild), "the wrapper's grandchild survived --timeout"


def test_a_grandchild_holding_a_connection_does_not_hold_the_drain(tmp_path: Path) -> None:
    pid_file = tmp_path / "holder.pid"
    # Connects to the collector, then idles: an MCP server or a tool left running.
    holder = (
        f"{sys.executable} -c 'import os, socket, time, urllib.parse; "
        'u = urllib.parse.urlsplit(os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]); '
        "s = socket.create_connection((u.hostname, u.port)); "
        "time.sleep(600)'"
    )
    result = beacon(
        *exec_args(tmp_path, "--drain-max", "60s"),
        "bash",
        "-c",
        f'{holder} & echo $! > {pid_file}; "$@"',
        "wrapper",
        *CHILD,
        "log:the agent's work",
    )
    assert result.returncode == 0, result.stderr
    outcome = last_json_line(result.stdout)
    assert outcome["drain"]["timed_out"] is False, result.stderr
    assert "left in its process group" in result.stderr
    assert not process_alive(_wait_for_pid(pid_file))


def test_github_cancellation_reaches_the_whole_group_and_still_writes_the_log(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    ready = tmp_path / "ready"
    # A non-interactive shell's background job ignores SIGINT: only the escalation ends it.
    process = subprocess.Popen(
        [
            BEACON,
            *exec_args(tmp_path, "--no-require-telemetry"),
            "bash",
            "-c",
            f'sleep 600 & echo $! > {pid_file}; "$@"',
            "wrapper",
            *CHILD,
            "log:before the cancel",
            f"ready:{ready}",
            "hang",
        ],
        env=clean_env(GITHUB_ACTIONS="true"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(ready.exists, what="the child to run")
    stderr, elapsed = signal_and_wait(process, signal.SIGINT, timeout=30)
    assert process.returncode == 128 + signal.SIGINT, stderr
    assert not process_alive(_wait_for_pid(pid_file))
    assert "before the cancel" in (tmp_path / "runtime.jsonl").read_text()
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["cancelled_by"] == signal.SIGINT
    assert result["exit_code"] == 128 + signal.SIGINT
    print(f"SIGINT to exit: {elapsed:.2f}s (GitHub sends SIGKILL at ~10 s)")
