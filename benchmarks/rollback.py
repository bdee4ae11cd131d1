"""What taking a killed run's lines back out of runtime.jsonl costs (``--only rollback``).

A log of ``mib`` MiB of runtime-shaped lines (~700 bytes each); the killed
run's lines are either its tail (the usual case: one ``ftruncate`` after
checking every line after the offset is that run's) or followed by another
run's lines (the file is rewritten without them: copy, ``fsync``, rename).
Also the ``fsync`` every finished append now costs before its ``done`` record.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import orjson

from beacon.pipeline.jsonl import LogLock
from beacon.pipeline.rollback import rollback_run
from benchmarks.report import Figure

_LINE_FIELDS = {
    "schema_version": "1.0",
    "timestamp": "2026-12-07T06:00:00.000000000Z",
    "event": {"action": "tool.command", "category": "process", "outcome": "success"},
    "harness": {"name": "claude_code", "version": "2.1.332"},
    "message": "Bash: git status --short && python -m pytest -q tests/unit " + "x" * 300,
    "host": {"hostname": "runner-1", "os": "linux"},
}


def _lines(session: str, mib: float) -> bytes:
    line = orjson.dumps({**_LINE_FIELDS, "beacon": {"session_id": session}}) + b"\n"
    return line * max(1, int(mib * (1 << 20)) // len(line))


def _write(path: Path, *parts: bytes) -> None:
    with path.open("wb") as out:
        for part in parts:
            out.write(part)
        out.flush()
        os.fsync(out.fileno())


def _timed_rollback(path: Path, session: str, offset: int) -> tuple[float, str, int]:
    lock = LogLock.acquire(path, timeout_s=5)
    assert lock is not None
    try:
        started = time.perf_counter()
        done = rollback_run(lock, session, offset)
        return time.perf_counter() - started, done.method, done.bytes
    finally:
        lock.release()


def rollback_costs(mib: int, directory: str | None = None) -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        log = Path(tmp, "runtime.jsonl")
        for killed_mib in (mib / 10, mib * 0.9):
            earlier = _lines("earlier-runs", mib - killed_mib)
            _write(log, earlier, _lines("killed", killed_mib), b'{"torn')
            seconds, method, removed = _timed_rollback(log, "killed", len(earlier))
            assert method == "truncated" and log.stat().st_size == len(earlier)
            figures.append(
                Figure(
                    f"rollback by truncation, {mib} MiB log, killed run's tail "
                    f"{removed / (1 << 20):.1f} MiB",
                    seconds * 1000,
                    "ms",
                    note="every line after the offset parsed, then one ftruncate + fsync",
                )
            )
        earlier = _lines("earlier-runs", mib * 0.89)
        _write(log, earlier, _lines("killed", mib / 10), _lines("another-base-dir", mib / 100))
        seconds, method, removed = _timed_rollback(log, "killed", len(earlier))
        assert method == "rewritten"
        figures.append(
            Figure(
                f"rollback by rewrite, {mib} MiB log, {removed / (1 << 20):.1f} MiB removed",
                seconds * 1000,
                "ms",
                note="another run's lines follow: copy without them, fsync, rename",
            )
        )
        fresh = Path(tmp, "fresh.jsonl")
        with fresh.open("wb") as out:
            out.write(_lines("one-run", mib))
            out.flush()
            started = time.perf_counter()
            os.fsync(out.fileno())
            synced = time.perf_counter() - started
        figures.append(
            Figure(
                f"fsync of a run's {mib} MiB just appended (before its done record)",
                synced * 1000,
                "ms",
                note="the page cache's dirty data; on tmpfs ~0",
            )
        )
    return figures
