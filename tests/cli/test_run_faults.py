"""`ci exec` when the job goes wrong: a torn log, an unwritable path, wrapped children."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import CHILD, beacon, last_json_line


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
