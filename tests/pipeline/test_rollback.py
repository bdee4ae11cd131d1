"""Taking an interrupted run's lines back out of runtime.jsonl, under the log's lock."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import orjson
import pytest

from beacon.pipeline.jsonl import LogLock
from beacon.pipeline.rollback import line_session, rollback_path, rollback_run


def line(session: str, n: int) -> bytes:
    return orjson.dumps({"message": f"{session} line {n}", "beacon": {"session_id": session}})


def lines(session: str, count: int) -> bytes:
    return b"".join(line(session, n) + b"\n" for n in range(count))


def locked(path: Path) -> LogLock:
    lock = LogLock.acquire(path, timeout_s=5)
    assert lock is not None
    return lock


def test_the_runs_tail_is_truncated_back_with_its_torn_last_line(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    before = lines("a", 3)
    log.write_bytes(before + lines("b", 2) + line("b", 2)[:17])
    lock = locked(log)
    try:
        done = rollback_run(lock, "b", len(before))
    finally:
        lock.release()
    assert (done.method, done.lines) == ("truncated", 3)
    assert log.read_bytes() == before


def test_the_newline_that_ended_an_earlier_torn_line_goes_with_the_run(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    # An earlier writer died mid-line; the interrupted run ended that line first.
    before = lines("a", 2) + line("a", 2)[:9]
    log.write_bytes(before + b"\n" + lines("b", 2))
    lock = locked(log)
    try:
        assert rollback_run(lock, "b", len(before)).method == "truncated"
    finally:
        lock.release()
    assert log.read_bytes() == before  # the next writer ends the torn line again


def test_other_runs_after_it_are_kept_and_only_its_lines_removed(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(lines("a", 2))
    log.chmod(0o640)
    offset = log.stat().st_size
    # b died mid-line; a writer that knows nothing of b's ledger (another base dir
    # sharing the log) ended the torn line and appended c.
    with log.open("ab") as out:
        out.write(lines("b", 2) + line("b", 2)[:20] + b"\n" + lines("c", 2))
    lock = locked(log)
    try:
        done = rollback_run(lock, "b", offset)
        assert (done.method, done.lines) == ("rewritten", 3)
        # The lock moved to the rewritten file, which the path now names.
        assert os.fstat(lock.fd).st_ino == log.stat().st_ino
    finally:
        lock.release()
    assert log.read_bytes() == lines("a", 2) + lines("c", 2)
    assert log.stat().st_mode & 0o777 == 0o640
    assert not rollback_path(log).exists()


def test_a_torn_line_of_another_run_is_not_taken_for_ours(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(lines("a", 1))
    offset = log.stat().st_size
    foreign_torn = line("c", 0)[:15] + b"\n"
    log.write_bytes(lines("a", 1) + lines("b", 1) + lines("c", 1) + foreign_torn + lines("c", 1))
    lock = locked(log)
    try:
        assert rollback_run(lock, "b", offset).lines == 1
    finally:
        lock.release()
    assert log.read_bytes() == lines("a", 1) + lines("c", 1) + foreign_torn + lines("c", 1)


def test_nothing_to_take_back_changes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(lines("a", 2))
    inode = log.stat().st_ino
    lock = locked(log)
    try:
        # Killed before its first byte; then an offset past the end (the log was replaced).
        assert rollback_run(lock, "b", log.stat().st_size).method == "none"
        assert rollback_run(lock, "b", 10**9).method == "none"
    finally:
        lock.release()
    assert log.read_bytes() == lines("a", 2) and log.stat().st_ino == inode


def test_line_session_reads_only_beacons_own_field() -> None:
    assert line_session(line("x", 0)) == "x"
    assert line_session(b'{"session_id": "x"}') is None
    assert line_session(b'{"beacon": "x"}') is None
    assert line_session(b"[1]") is None
    assert line_session(b'{"beacon": {"sess') is None


def test_the_lock_excludes_a_second_writer_until_released(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    first = locked(log)
    assert LogLock.acquire(log, timeout_s=0) is None
    got: list[LogLock | None] = []
    waiter = threading.Thread(target=lambda: got.append(LogLock.acquire(log, timeout_s=30)))
    waiter.start()
    first.release()
    waiter.join(timeout=30)
    assert got and got[0] is not None
    got[0].release()


def test_a_lock_on_a_replaced_file_is_taken_again_on_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(lines("a", 1))
    stale = os.open(log, os.O_RDONLY)
    replacement = tmp_path / "new"
    replacement.write_bytes(lines("a", 2))
    fd = os.open(replacement, os.O_RDONLY)
    fcntl.flock(stale, fcntl.LOCK_EX)  # held on the file about to be replaced
    replacement.rename(log)
    try:
        lock = locked(log)  # not blocked by the stale file's lock: it locks the new one
        assert os.fstat(lock.fd).st_ino == os.fstat(fd).st_ino
        lock.release()
    finally:
        os.close(stale)
        os.close(fd)


def test_a_missing_log_is_not_created_when_asked_not_to(tmp_path: Path) -> None:
    assert LogLock.acquire(tmp_path / "gone.jsonl", timeout_s=0, create=False) is None
    assert not (tmp_path / "gone.jsonl").exists()


@pytest.mark.parametrize("size", [0, 1])
def test_the_lock_creates_the_log_private(tmp_path: Path, size: int) -> None:
    log = tmp_path / "dir" / "runtime.jsonl"
    if size:
        log.parent.mkdir()
        log.write_bytes(b"\n")
    lock = locked(log)
    lock.release()
    assert log.exists()
    if not size:
        assert log.stat().st_mode & 0o777 == 0o600
