"""The processed-sessions ledger: a run's append to runtime.jsonl is undone if it never finished."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from beacon.paths import ArtifactPaths
from beacon.pipeline.jsonl import LogLock
from beacon.run.ledger import (
    Begun,
    append_record,
    begin_record,
    done_record,
    ledger_path,
    parse_ledger,
    processing,
    read_ledger,
    rolled_back_record,
)


def line(session: str, n: int) -> bytes:
    return orjson.dumps({"n": n, "beacon": {"session_id": session}}) + b"\n"


def test_the_ledgers_records_in_order() -> None:
    text = b"".join(
        [
            b"legacy-1\n",  # an older beacon's record: done, kept unknown
            begin_record("a", Path("/l"), 10),
            done_record("a", kept=False),
            begin_record("b", Path("/l"), 20),
            begin_record("c", Path("/m"), 30),
            done_record("c", kept=True),
            begin_record("d", Path("/l"), 40),
            rolled_back_record("d"),
            begin_record("d", Path("/l"), 50),
            b'{"done": "e", "ke',  # torn by a host crash: never happened
        ]
    ).decode()
    ledger = parse_ledger(text)
    assert ledger.done == {"legacy-1", "a", "c"}
    assert ledger.kept == {"legacy-1", "c"}
    assert list(ledger.interrupted.values()) == [Begun("b", "/l", 20), Begun("d", "/l", 50)]
    assert ledger.offsets == {"a": 10, "c": 30}  # where done runs' lines begin
    assert parse_ledger("\n\n[]\n{}\n").done == set()


def paths_in(tmp_path: Path) -> ArtifactPaths:
    paths = ArtifactPaths.create(tmp_path / "base")
    paths.ensure_dirs()
    return paths


def killed_while_writing(paths: ArtifactPaths, session: str, count: int) -> int:
    """What a run SIGKILLed in its append leaves: a begin, some lines, a torn one."""
    log = paths.log_path.resolve()
    offset = log.stat().st_size if log.exists() else 0
    append_record(paths, begin_record(session, log, offset))
    with log.open("ab") as out:
        out.write(b"".join(line(session, n) for n in range(count)) + line(session, count)[:11])
    return offset


def test_a_killed_runs_lines_are_taken_out_before_the_next_run_appends(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    paths.log_path.write_bytes(line("earlier", 0))
    offset = killed_while_writing(paths, "killed", 3)
    assert "killed" in read_ledger(paths).interrupted

    with processing(paths, "next") as run:
        assert run.log_start == offset
        assert [(r.session_id, r.method, r.lines) for r in run.rolled_back] == [
            ("killed", "truncated", 4)
        ]
        with paths.log_path.open("ab") as out:
            out.write(line("next", 0))
        run.kept = True
    assert paths.log_path.read_bytes() == line("earlier", 0) + line("next", 0)
    ledger = read_ledger(paths)
    assert ledger.interrupted == {} and ledger.done == {"next"} and ledger.kept == {"next"}

    # The killed run is processed again, once: a second rollback finds nothing.
    with processing(paths, "killed") as again:
        assert again.rolled_back == []
        with paths.log_path.open("ab") as out:
            out.write(line("killed", 0))
    assert read_ledger(paths).done == {"next", "killed"}
    assert "killed" not in read_ledger(paths).kept


def test_a_failure_inside_takes_the_runs_lines_back_at_once(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    paths.log_path.write_bytes(line("earlier", 0))
    with pytest.raises(OSError, match="disk full"), processing(paths, "failing"):
        with paths.log_path.open("ab") as out:
            out.write(line("failing", 0) + line("failing", 1)[:5])
        raise OSError("disk full")
    assert paths.log_path.read_bytes() == line("earlier", 0)
    ledger = read_ledger(paths)
    assert ledger.interrupted == {} and ledger.done == set()


def test_a_dead_run_in_another_log_is_rolled_back_there_a_live_one_is_not(
    tmp_path: Path,
) -> None:
    paths = paths_in(tmp_path)
    other = ArtifactPaths.create(paths.base_dir, tmp_path / "elsewhere.jsonl")
    other.log_path.write_bytes(line("kept", 0))
    killed_while_writing(other, "dead", 2)
    holder = LogLock.acquire(other.log_path.resolve(), timeout_s=5)
    assert holder is not None
    try:
        with processing(paths, "mine") as run:  # its writer might be alive: left alone
            assert run.rolled_back == []
        assert "dead" in read_ledger(paths).interrupted
    finally:
        holder.release()
    with processing(paths, "mine-too") as run:
        assert [r.session_id for r in run.rolled_back] == ["dead"]
    assert other.log_path.read_bytes() == line("kept", 0)
    assert "dead" not in read_ledger(paths).interrupted


def test_a_torn_ledger_line_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    ledger_path(paths).write_bytes(b"legacy\n" + b'{"begin": "x", "lo')
    append_record(paths, done_record("y", kept=False))
    ledger = read_ledger(paths)
    assert ledger.done == {"legacy", "y"} and ledger.interrupted == {}


def test_a_set_aside_spool_of_a_done_run_is_deleted_unless_it_may_be_kept(
    tmp_path: Path,
) -> None:
    from beacon.config import FinishSettings
    from beacon.otlp.codec import encode_spool_line
    from beacon.otlp.records import lifecycle_request
    from beacon.run.leftovers import recover_set_aside

    paths = paths_in(tmp_path)
    spools = {}
    for n, session in enumerate(["done-run", "kept-run", "old-run"]):
        spool = paths.spool_dir / f"otlp.jsonl.2026120{n}T000000Z"
        started = lifecycle_request("collector.started", {}, session)
        spool.write_bytes(encode_spool_line("logs", started) + b"\n")
        spools[session] = spool
    append_record(paths, done_record("done-run", kept=False))
    append_record(paths, done_record("kept-run", kept=True))
    append_record(paths, b"old-run\n")  # an older beacon's record: kept or not, unknown

    entries = recover_set_aside(
        paths, harnesses=(), settings=FinishSettings(), environ={}, tokens={}
    )
    assert entries == [
        {"session_id": "done-run", "spool_path": str(spools["done-run"]), "already_processed": True}
    ]
    assert not spools["done-run"].exists()
    assert spools["kept-run"].exists() and spools["old-run"].exists()
    assert not paths.log_path.exists()  # nothing was processed again


def test_a_log_another_run_is_writing_is_waited_for_then_a_clear_error(tmp_path: Path) -> None:
    from beacon.pipeline.jsonl import LogWriteError

    paths = paths_in(tmp_path)
    holder = LogLock.acquire(paths.log_path.resolve(), timeout_s=5)
    assert holder is not None
    try:
        with (
            pytest.raises(LogWriteError, match="being written by another beacon run"),
            processing(paths, "waiting", timeout_s=0),
        ):
            raise AssertionError("entered without the lock")
    finally:
        holder.release()
    assert read_ledger(paths).interrupted == {}  # nothing was begun
