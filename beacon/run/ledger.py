"""The ``processed-sessions`` ledger: which runs' spools are in runtime.jsonl, exactly once.

Processing a spool appends its run's lines to runtime.jsonl; a process killed
meanwhile (the runner's SIGKILL, OOM) leaves part of them there and its raw
spool behind. To make processing idempotent across a kill at any point,
:func:`processing` brackets every append, under the log's lock:

1. lock runtime.jsonl (``LogLock``: no other run appends meanwhile);
2. roll back every run the ledger shows begun and never finished (it died:
   a live one would hold the lock) and record ``rolled_back``;
3. record ``begin`` with the log's path and size, ``fsync``ed;
4. the pipeline appends; the log is ``fsync``ed;
5. record ``done`` (with whether the raw spool is kept), ``fsync``ed.

A run rolled back is not processed: its spool is processed again, once, by
whoever finds it next. The ledger is append-only, one record a line: JSON
objects (``{"begin": id, "log": path, "offset": n}``, ``{"done": id,
"kept": bool}``, ``{"rolled_back": id}``) or, as older beacons wrote, a bare
session id (done; whether its spool was kept is unknown). A line torn by a
host crash is ignored.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from beacon.paths import FILE_MODE, ArtifactPaths
from beacon.pipeline.jsonl import LOCK_TIMEOUT_S, LogLock, LogWriteError
from beacon.pipeline.rollback import Rollback, discard_stale_copy, rollback_run

LEDGER_NAME = "processed-sessions"
# An older beacon's record: the session id alone (uuid hex).
_BARE_ID = re.compile(r"[A-Za-z0-9._:-]+")


@dataclass(frozen=True)
class Begun:
    """A run that started appending to ``log_path`` when it held ``offset`` bytes."""

    session_id: str
    log_path: str
    offset: int


@dataclass
class Ledger:
    done: set[str] = field(default_factory=set)
    kept: set[str] = field(default_factory=set)
    """Done runs whose raw spool may be kept on purpose (or nobody recorded: older lines)."""
    interrupted: dict[str, Begun] = field(default_factory=dict)
    """Runs begun and neither done nor rolled back, in the order they began."""
    offsets: dict[str, int] = field(default_factory=dict)
    """Where done runs' lines began in their log."""


def parse_ledger(text: str) -> Ledger:
    """The ledger's state after its records, in order (pure)."""
    ledger = Ledger()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if _BARE_ID.fullmatch(line):
            ledger.done.add(line)  # an older beacon's record: a bare session id
            ledger.kept.add(line)
            ledger.interrupted.pop(line, None)
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # torn by a host crash: the record never happened
        if isinstance(record, dict):
            _apply(ledger, record)
    return ledger


def _apply(ledger: Ledger, record: dict[str, object]) -> None:
    begun, done, rolled_back = record.get("begin"), record.get("done"), record.get("rolled_back")
    if isinstance(begun, str):
        log, offset = record.get("log"), record.get("offset")
        if isinstance(log, str) and isinstance(offset, int) and not isinstance(offset, bool):
            ledger.interrupted.pop(begun, None)  # re-inserted last: begin order
            ledger.interrupted[begun] = Begun(begun, log, offset)
            ledger.done.discard(begun)
    elif isinstance(done, str):
        begun_at = ledger.interrupted.pop(done, None)
        if begun_at is not None:
            ledger.offsets[done] = begun_at.offset
        ledger.done.add(done)
        if record.get("kept") is False:
            ledger.kept.discard(done)
        else:
            ledger.kept.add(done)
    elif isinstance(rolled_back, str):
        ledger.interrupted.pop(rolled_back, None)


def begin_record(session_id: str, log_path: Path, offset: int) -> bytes:
    return orjson.dumps({"begin": session_id, "log": str(log_path), "offset": offset}) + b"\n"


def done_record(session_id: str, *, kept: bool) -> bytes:
    return orjson.dumps({"done": session_id, "kept": kept}) + b"\n"


def rolled_back_record(session_id: str) -> bytes:
    return orjson.dumps({"rolled_back": session_id}) + b"\n"


def ledger_path(paths: ArtifactPaths) -> Path:
    return paths.spool_dir / LEDGER_NAME


def read_ledger(paths: ArtifactPaths) -> Ledger:
    try:
        return parse_ledger(ledger_path(paths).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return Ledger()


def append_record(paths: ArtifactPaths, record: bytes) -> None:
    """Append one record and ``fsync`` it (a record on disk must not name lines that are not).

    A torn last line (a host crash) is ended first, so the record stays whole.
    Raises ``LogWriteError`` when the ledger cannot be written.
    """
    path = ledger_path(paths)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        raise LogWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            record = b"\n" + record
        os.write(fd, record)
        os.fsync(fd)
    except OSError as exc:
        raise LogWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


@dataclass
class Processing:
    """One run's append, as :func:`processing` hands it to the caller."""

    session_id: str
    log_start: int
    """The log's size before this run's lines: they are everything after it."""
    rolled_back: list[Rollback]
    """Interrupted runs taken back out of the log first (their spools are processed again)."""
    kept: bool = False
    """Set by the caller: the raw spool stays on purpose (``--keep-spool``, failed validation)."""


@contextlib.contextmanager
def processing(
    paths: ArtifactPaths,
    session_id: str,
    *,
    timeout_s: float = LOCK_TIMEOUT_S,
    say: Callable[[str], None] | None = None,
) -> Iterator[Processing]:
    """Bracket ``session_id``'s append to ``paths.log_path`` with the ledger's records.

    An exception inside takes this run's lines back out at once (recorded
    ``rolled_back``, so its spool is processed again); a kill leaves that to
    the next run. ``say`` hears that the run waits for another run's write.
    """
    log_path = paths.log_path.resolve()

    def waiting() -> None:
        if say is not None:
            say(
                f"waiting for another beacon run to finish writing {log_path} "
                f"(at most {timeout_s:g}s)"
            )

    lock = LogLock.acquire(log_path, timeout_s=timeout_s, on_wait=waiting)
    if lock is None:
        raise LogWriteError(
            f"{log_path} is being written by another beacon run for over {timeout_s:g}s",
            hint="give each concurrent run its own --log-path",
        )
    try:
        rolled_back = roll_back_interrupted(paths, lock)
        run = Processing(session_id, lock.size(), rolled_back)
        append_record(paths, begin_record(session_id, log_path, run.log_start))
        try:
            yield run
        except BaseException:
            with contextlib.suppress(Exception):  # else the next run rolls it back
                rollback_run(lock, session_id, run.log_start)
                append_record(paths, rolled_back_record(session_id))
            raise
        lock.sync()
        append_record(paths, done_record(session_id, kept=run.kept))
    finally:
        lock.release()


def roll_back_interrupted(paths: ArtifactPaths, lock: LogLock) -> list[Rollback]:
    """Take every interrupted run's lines out of its log (``lock`` holds ours)."""
    rolled_back = []
    discard_stale_copy(lock.path)
    for begun in read_ledger(paths).interrupted.values():
        other = Path(begun.log_path)
        if other == lock.path:
            rolled_back.append(rollback_run(lock, begun.session_id, begun.offset))
        else:
            # Another log: only if nobody is writing it now (then the run is dead).
            held = LogLock.acquire(other, timeout_s=0, create=False)
            if held is None and other.exists():
                continue
            if held is not None:
                try:
                    discard_stale_copy(other)
                    rolled_back.append(rollback_run(held, begun.session_id, begun.offset))
                finally:
                    held.release()
        append_record(paths, rolled_back_record(begun.session_id))
    return rolled_back
