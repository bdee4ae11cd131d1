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
