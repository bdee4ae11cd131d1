"""Validation on the second core: the child follows runtime.jsonl while it is written.

Real child processes (``python -m beacon.pipeline.follow``) on real files; the
verdict must be exactly the sequential one, older runs' lines included.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.pipeline import PipelineOptions, SpoolHealth, run_pipeline, runner, validate_log
from beacon.pipeline.follow import Follower, follow_lines
from beacon.pipeline.jsonl import iter_lines

from .helpers import fixture_requests, write_spool
from .test_validate import full_run


def _verdict(result: Any) -> dict[str, Any]:
    as_dict = dict(result.to_dict())
    del as_dict["generated_at"]
    return as_dict


def _run(tmp_path: Path, session_id: str, **kwargs: Any) -> Any:
    spool = write_spool(tmp_path / f"spool-{session_id}.jsonl", full_run(session_id))
    options = PipelineOptions(
        session_id=session_id,
        log_path=tmp_path / "runtime.jsonl",
        concurrent_validation_min_bytes=0,  # always use the child here
        **kwargs,
    )
    return run_pipeline(spool, options)


def _no_in_process_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("validated in-process, not by the child")

    monkeypatch.setattr(runner, "validate_log", refuse)


def test_the_child_verdict_is_the_sequential_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_in_process_validation(monkeypatch)
    result = _run(tmp_path, "run-a", require_actions=("command.executed", "file.modified"))
    sequential = validate_log(
        tmp_path / "runtime.jsonl",
        session_id="run-a",
        require_actions=("command.executed", "file.modified"),
        spool_health=SpoolHealth(),
    )
    assert result.validation.status == "fail"  # the grpc fixture has no file.modified
    assert _verdict(result.validation) == _verdict(sequential)
    result = _run(tmp_path, "run-a2", require_actions=("command.executed",))
    assert result.validation.status == "ok"


def test_the_child_checks_older_lines_of_the_file_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_in_process_validation(monkeypatch)
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(b'{"not": "a runtime line"}\nnot json at all\n')
    result = _run(tmp_path, "run-b")
    assert result.validation.status == "fail"
    stages = {s.name: (s.status, s.message) for s in result.validation.stages}
    assert stages["lines_parse"][0] == "fail" and "line 2" in stages["lines_parse"][1]
    assert stages["schema"][0] == "fail" and "line 1" in stages["schema"][1]
    assert stages["harness_events"][0] == "ok"  # this run's own lines still count
    assert _verdict(result.validation) == _verdict(
        validate_log(log, session_id="run-b", spool_health=SpoolHealth())
    )


def test_spool_health_reaches_the_child(tmp_path: Path) -> None:
    spool = write_spool(tmp_path / "spool.jsonl", fixture_requests("grpc"))
    with spool.open("ab") as file:
        file.write(b'{"resourceLogs": [')  # a writer interrupted mid-line
    options = PipelineOptions(
        session_id="run-c", log_path=tmp_path / "runtime.jsonl", concurrent_validation_min_bytes=0
    )
    result = run_pipeline(spool, options)
    stages = {s.name: (s.status, s.message) for s in result.validation.stages}
    assert stages["spool_health"][0] == "warn"
    assert "partial line" in stages["spool_health"][1]


def test_follow_lines_waits_for_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "growing.jsonl"
    path.write_bytes(b"first\n\nsec")
    steps = [b"ond\nthi", b"rd\n", b"last-without-newline"]

    def finished(timeout: float) -> bool:
        assert timeout > 0
        if steps:
            with path.open("ab") as file:
                file.write(steps.pop(0))
            return not steps
        return True

    lines = list(follow_lines(path, finished))
    assert lines == [(1, b"first"), (3, b"second"), (4, b"third"), (5, b"last-without-newline")]


def test_a_failed_child_gives_no_verdict(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(b"")
    follower = Follower.start(
        log, session_id="run-d", harnesses=("claude_code",), min_events=1, require_actions=()
    )
    assert follower is not None
    follower.process.kill()
    assert follower.finish(SpoolHealth(), timeout=30) is None  # the caller validates itself


@settings(max_examples=100, deadline=None)
@given(
    content=st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\n")),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6),
)
def test_follow_lines_reads_what_iter_lines_reads(content: bytes, cuts: list[int]) -> None:
    # However the writes are split, the followed lines are the lines of the final file.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        bounds = sorted({0, len(content), *(c for c in cuts if c < len(content))})
        pieces = [content[a:b] for a, b in itertools.pairwise(bounds)]
        path.write_bytes(pieces.pop(0) if pieces else b"")

        def finished(timeout: float) -> bool:
            if pieces:
                with path.open("ab") as file:
                    file.write(pieces.pop(0))
                return False
            return True

        assert list(follow_lines(path, finished)) == list(iter_lines(path))
