"""Take an interrupted run's lines back out of runtime.jsonl, so its spool can be processed again.

A run killed while it appended left some of its lines (the last one perhaps
torn, without its newline) after the offset it recorded before writing. The
ledger (``beacon.run.ledger``) knows that offset; the caller holds the
:class:`~beacon.pipeline.jsonl.LogLock`, so no live run is writing.

- Usually the run's lines are the file's tail: the file is truncated back to
  the offset (one ``ftruncate``, then ``fsync``).
- When anything else follows them (a run from another base dir sharing the
  log, the offset no longer on a line start), the file is rewritten without
  exactly that run's lines: a copy beside it, locked, ``fsync``ed, renamed over
  the log. Lines of other runs are copied byte for byte.

A line is the run's when its ``beacon.session_id`` says so. A torn fragment
(not a JSON object) is the run's when it starts at the offset or right after
one of the run's lines: a writer dies in its own last line.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from beacon.pipeline.jsonl import LogLock

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Rollback:
    """What was removed of one interrupted run."""

    session_id: str
    method: str
    """``truncated``, ``rewritten`` or ``none`` (none of its lines were there)."""
    lines: int
    bytes: int


def line_session(line: bytes) -> str | None:
    """The ``beacon.session_id`` of a runtime line; None for anything else."""
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict):
        return None
    beacon = parsed.get("beacon")
    session = beacon.get("session_id") if isinstance(beacon, dict) else None
    return session if isinstance(session, str) else None


def _is_fragment(line: bytes) -> bool:
    """Not a JSON object: what a writer killed mid-line leaves."""
    try:
        return not isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return True


def rollback_path(log_path: Path) -> Path:
    """The rewritten copy, beside the log (same file system: the rename is atomic)."""
    return log_path.with_name(f".{log_path.name}.rollback")


def rollback_run(lock: LogLock, session_id: str, offset: int) -> Rollback:
    """Remove ``session_id``'s lines (and its torn last line) from the locked log."""
    size = lock.size()
    if 0 <= offset <= size:
        tail = _tail_lines(lock.fd, session_id, offset, size)
        if tail is not None:
            if size > offset:
                os.ftruncate(lock.fd, offset)
                lock.sync()
                return Rollback(session_id, "truncated", tail, size - offset)
            return Rollback(session_id, "none", 0, 0)
    return _rewrite_without(lock, session_id, offset)


def _tail_lines(fd: int, session_id: str, offset: int, size: int) -> int | None:
    """How many of the run's lines follow ``offset``; None if anything else does."""
    wanted = session_id.encode()
    lines = 0
    pending = b""
    position = offset
    while position < size:
        block = os.pread(fd, min(_BLOCK, size - position), position)
        if not block:
            break
        position += len(block)
        *complete, pending = (pending + block).split(b"\n")
        for line in complete:
            stripped = line.rstrip(b"\r")
            if not stripped.strip():
                continue  # the newline that ended an earlier writer's torn line
            if wanted not in stripped or line_session(stripped) != session_id:
                return None
            lines += 1
    # A last piece without its newline: the run died writing it.
    return lines + (1 if pending.strip() else 0)


def _rewrite_without(lock: LogLock, session_id: str, offset: int) -> Rollback:
    """Copy the log without the run's lines; rename the copy over it (locked first)."""
    import fcntl

    wanted = session_id.encode()
    target = rollback_path(lock.path)
    mode = os.fstat(lock.fd).st_mode & 0o777
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # whoever opens the log after the rename waits
        os.fchmod(fd, mode)
        removed_lines = removed_bytes = 0
        with open(lock.path, "rb") as source, open(fd, "wb", closefd=False) as out:  # noqa: PTH123
            position = 0
            after_ours = False
            for line in source:
                start, position = position, position + len(line)
                body = line.rstrip(b"\r\n")
                if not body.strip():
                    out.write(line)
                    continue
                ours = wanted in body and line_session(body) == session_id
                torn = not ours and (after_ours or start == offset) and _is_fragment(body)
                after_ours = ours
                if ours or torn:
                    removed_lines += 1
                    removed_bytes += len(line)
                    continue
                out.write(line)
        if removed_lines == 0:
            os.close(fd)
            target.unlink()
            return Rollback(session_id, "none", 0, 0)
        os.fsync(fd)
        target.rename(lock.path)
        _sync_directory(lock.path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    lock.adopt(fd)
    return Rollback(session_id, "rewritten", removed_lines, removed_bytes)


def discard_stale_copy(log_path: Path) -> None:
    """A copy a killed rollback left (the log itself was never touched)."""
    with contextlib.suppress(FileNotFoundError):
        rollback_path(log_path).unlink()


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
