"""A large spool is shared with a worker process (``beacon/pipeline/worker.py``).

Real worker processes on real files. Whoever processed a chunk, runtime.jsonl
must be byte for byte what the pipeline writes alone, and the verdict the one
``validate_log`` gives reading the whole file, older runs' lines included.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.pipeline import PipelineOptions, RedactionSettings, SpoolHealth, run_pipeline, runner
from beacon.pipeline import validate_log as read_and_validate
from beacon.pipeline.chunks import ChunkProcessor, ChunkSettings, split_lines
from beacon.pipeline.worker import Worker

from .helpers import context, fixture_requests, log_request, write_spool
from .test_validate import full_run

GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"  # a planted secret
AWS_KEY = "AKIA" + "Q3EXAMPLE7KEYZ2W"
ENV_SECRET = "s3cr3t-only-in-the-env-value"


def _verdict(result: Any) -> dict[str, Any]:
    as_dict = dict(result.to_dict())
    del as_dict["generated_at"]
    return as_dict


def _verdict_of_any_log(result: Any) -> dict[str, Any]:
    """The verdict with the log's path taken out (to compare runs on two files)."""
    as_dict = _verdict(result)
    path = as_dict.pop("log_path")
    as_dict["stages"] = [
        {**stage, "message": stage["message"].replace(path, "LOG")} for stage in as_dict["stages"]
    ]
    return as_dict


def _no_in_process_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the log was read back instead of checked as written")

    monkeypatch.setattr(runner, "validate_log", refuse)


def _secret_spool(path: Path, events: int) -> Path:
    """Claude-shaped events with secrets planted, an unreadable line, a sequence gap
    and a writer's partial last line."""
    requests = []
    for sequence in range(events):
        if sequence == events // 2:
            continue  # a lost event: validation must see the gap whoever had the chunk
        prompt = f"step {sequence}: fix the build"
        if sequence % 7 == 0:
            prompt += f" with token {GITHUB_TOKEN} and key {AWS_KEY}"
        if sequence % 11 == 0:
            prompt += f" env {ENV_SECRET}"
        requests.append(
            log_request(
                {
                    "event.name": "user_prompt",
                    "event.sequence": sequence,
                    "session.id": "claude-1",
                    "prompt": prompt,
                    "prompt_length": len(prompt),
                },
                body="claude_code.user_prompt",
            )
        )
    write_spool(
        path, [*requests[: events // 3], *fixture_requests("grpc"), *requests[events // 3 :]]
    )
    with path.open("ab") as spool:
        spool.write(b"[1, 2]\n")  # not an export request: a bad line
        spool.write(orjson.dumps(requests[0][1]) + b"\n")
        spool.write(b'{"resourceLogs": [')  # a writer interrupted mid-line
    return path


def _options(log: Path, parallel_min_bytes: int) -> PipelineOptions:
    return PipelineOptions(
        session_id="run-p",
        log_path=log,
        redaction=RedactionSettings(env_values=(ENV_SECRET,)),
        require_actions=("prompt.submitted",),
        parallel_min_bytes=parallel_min_bytes,
    )


def test_the_parallel_path_writes_and_judges_exactly_as_the_sequential_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = _secret_spool(tmp_path / "spool.jsonl", 600)
    # Many small chunks, and the same clock for both runs (the summary line has a time).
    monkeypatch.setattr(runner, "CHUNK_BYTES", 8192)
    monkeypatch.setattr(runner, "time", SimpleNamespace(time_ns=lambda: 1_795_912_900_123_000_000))
    older = b'{"an": "older run line, not a runtime line"}\nnot json\n'
    local_chunks = 0
    process = ChunkProcessor.process

    def counting(self: ChunkProcessor, chunk: bytes, *, last: bool) -> Any:
        nonlocal local_chunks
        local_chunks += 1
        return process(self, chunk, last=last)

    monkeypatch.setattr(ChunkProcessor, "process", counting)
    results = {}
    for name, threshold in (("sequential", 1 << 40), ("parallel", 1)):
        log = tmp_path / f"{name}.jsonl"
        log.write_bytes(older)
        local_chunks = 0
        results[name] = (run_pipeline(spool, _options(log, threshold)), log, local_chunks)
    sequential, sequential_log, all_chunks = results["sequential"]
    parallel, parallel_log, kept_here = results["parallel"]
    assert all_chunks > 10
    assert kept_here <= all_chunks - 2  # the worker took chunks (at least its first two)

    assert parallel_log.read_bytes() == sequential_log.read_bytes()
    written = parallel_log.read_bytes()
    assert GITHUB_TOKEN.encode() not in written and AWS_KEY.encode() not in written
    assert ENV_SECRET.encode() not in written
    assert parallel.redactions == sequential.redactions
    assert set(parallel.redactions) >= {"github_token", "aws_access_key"}
    assert parallel.events_written == sequential.events_written > 600
    assert parallel.actions == sequential.actions
    assert (parallel.spool_bad_lines, parallel.spool_truncated_tail) == (1, True)
    assert (sequential.spool_bad_lines, sequential.spool_truncated_tail) == (1, True)
    assert parallel.malformed_records == sequential.malformed_records

    verdict = _verdict(parallel.validation)
    assert _verdict_of_any_log(parallel.validation) == _verdict_of_any_log(sequential.validation)
    stages = {s["name"]: (s["status"], s["message"]) for s in verdict["stages"]}
    # The older lines are another run's damage: reported, not this run's failure.
    assert stages["lines_parse"][0] == "warn" and "line 2" in stages["lines_parse"][1]
    assert stages["schema"][0] == "warn" and "line 1" in stages["schema"][1]
    assert stages["spool_health"][0] == "warn"
    assert "1 of 600 events missing" in stages["spool_health"][1]
    assert "partial line" in stages["spool_health"][1]
    # The verdict is the one a reader of the whole file gives.
    health = SpoolHealth(truncated_tail=True, bad_lines=1)
    assert verdict == _verdict(
        read_and_validate(
            parallel_log,
            session_id="run-p",
            require_actions=("prompt.submitted",),
            spool_health=health,
        )
    )


def test_lines_appended_by_another_process_meanwhile_are_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What was checked as written is not the whole file then: the file itself is read.
    log = tmp_path / "runtime.jsonl"
    real_add = runner._Totals.add
    appended = False

    def add_and_interfere(self: Any, result: Any) -> None:
        nonlocal appended
        real_add(self, result)
        if not appended:
            appended = True
            with log.open("ab") as other_writer:
                other_writer.write(b"garbage from elsewhere\n")

    monkeypatch.setattr(runner._Totals, "add", add_and_interfere)
    spool = write_spool(tmp_path / "spool.jsonl", full_run("run-x"))
    result = run_pipeline(spool, PipelineOptions(session_id="run-x", log_path=log))
    stages = {s.name: (s.status, s.message) for s in result.validation.stages}
    assert stages["lines_parse"][0] == "warn"  # seen, and not blamed on this run
    assert _verdict(result.validation) == _verdict(
        read_and_validate(log, session_id="run-x", spool_health=SpoolHealth())
    )


def test_a_log_without_a_final_newline_is_read_back(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(b'{"half": "a line')  # an earlier writer died mid-line
    spool = write_spool(tmp_path / "spool.jsonl", full_run("run-y"))
    result = run_pipeline(spool, PipelineOptions(session_id="run-y", log_path=log))
    assert _verdict(result.validation) == _verdict(
        read_and_validate(log, session_id="run-y", spool_health=SpoolHealth())
    )
    # The torn line was ended before this run's lines: only it is unreadable.
    assert result.log_tail_repaired
    assert log.read_bytes().startswith(b'{"half": "a line\n')
    stages = {s.name: s.status for s in result.validation.stages}
    assert stages["lines_parse"] == "warn" and stages["session"] == "ok"


def test_the_worker_verdict_covers_older_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_in_process_read_back(monkeypatch)
    log = tmp_path / "runtime.jsonl"
    spool = write_spool(tmp_path / "spool-a.jsonl", full_run("run-a"))
    first = run_pipeline(spool, PipelineOptions(session_id="run-a", log_path=log))
    assert first.validation.status == "ok"
    spool = write_spool(tmp_path / "spool-b.jsonl", full_run("run-b"))
    options = PipelineOptions(
        session_id="run-b",
        log_path=log,
        require_actions=("command.executed", "file.modified"),
        parallel_min_bytes=0,
    )
    result = run_pipeline(spool, options)
    assert result.validation.status == "fail"  # the grpc fixture has no file.modified
    assert _verdict(result.validation) == _verdict(
        read_and_validate(
            log,
            session_id="run-b",
            require_actions=("command.executed", "file.modified"),
            spool_health=SpoolHealth(),
        )
    )


def test_a_dead_worker_leaves_its_chunks_to_the_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = Worker.start

    def start_then_die(settings: ChunkSettings) -> Worker | None:
        worker = started(settings)
        assert worker is not None
        worker.process.kill()
        return worker

    monkeypatch.setattr(Worker, "start", start_then_die)
    monkeypatch.setattr(runner, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(runner, "time", SimpleNamespace(time_ns=lambda: 1_795_912_900_123_000_000))
    spool = _secret_spool(tmp_path / "spool.jsonl", 120)
    parallel = run_pipeline(spool, _options(tmp_path / "a.jsonl", 0))
    alone = run_pipeline(spool, _options(tmp_path / "b.jsonl", 1 << 40))
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert parallel.events_written == alone.events_written > 120
    assert parallel.redactions == alone.redactions
    assert _verdict_of_any_log(parallel.validation) == _verdict_of_any_log(alone.validation)


def test_the_chunk_settings_travel_intact() -> None:
    settings = ChunkSettings(
        ctx=context("run-s", working_directory="/w", run={"provider": "github", "ephemeral": True}),
        redaction=RedactionSettings(env_values=(ENV_SECRET,), patterns=(r"corp-[0-9]{6}",)),
        max_field_bytes=1024,
        max_line_bytes=8192,
        harnesses=("claude_code", "otel"),
        fast_paths=True,
    )
    assert ChunkSettings.from_json(settings.to_json()) == settings


@settings(max_examples=200, deadline=None)
@given(
    content=st.binary(max_size=200).map(lambda b: bytes(b"ab\n"[x % 3] for x in b)),
    chunk_bytes=st.integers(min_value=1, max_value=32),
)
def test_spool_chunks_are_whole_lines_that_add_up_to_the_spool(
    content: bytes, chunk_bytes: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "CHUNK_BYTES", chunk_bytes)
        chunks = list(runner._spool_chunks(io.BytesIO(content)))
    assert b"".join(chunk for chunk, _ in chunks) == content
    assert all(chunk for chunk, _ in chunks)
    assert [last for _, last in chunks] == [False] * (len(chunks) - 1) + [True] * bool(chunks)
    assert all(chunk.endswith(b"\n") for chunk, _ in chunks[:-1])


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=64)
    | st.lists(st.sampled_from([b"\n", b"ab", b"", b"{}"])).map(b"".join)
)
def test_chunks_are_cut_into_lines_as_bytes_split_cuts_them(data: bytes) -> None:
    assert split_lines(data) == data.split(b"\n")
