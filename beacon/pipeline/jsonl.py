"""runtime.jsonl on disk: an appending writer, a streaming line reader, the writers' lock."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from beacon.errors import BeaconError
from beacon.flock import lock_exclusive
from beacon.paths import FILE_MODE

_FLUSH_BYTES = 1 << 20


class LogWriteError(BeaconError):
    """runtime.jsonl cannot be written."""


class JsonlAppender:
    """Appends complete lines to runtime.jsonl (created with mode 0600 if new).

    Lines are buffered and written in large chunks; ``close`` (or leaving the
    ``with`` block) writes the rest. Each chunk ends on a line boundary.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines_written = 0
        self.bytes_written = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(
                path,
                os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                FILE_MODE,
            )
        except OSError as exc:
            raise LogWriteError(f"cannot open {path} for appending: {exc.strerror or exc}") from exc
        #: True when an earlier writer had died mid-line and this one ended its line.
        self.repaired_tail = self._end_torn_tail()
        # What the file held before this writer (lines of earlier runs).
        self.initial_size = os.fstat(self._fd).st_size

    def _end_torn_tail(self) -> bool:
        """End the file's last line if an earlier writer died before its newline.

        Without this the first line appended would be glued to the torn one and
        neither would parse. The torn line stays as it is (it is not ours to drop).
        """
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return False
        try:
            os.write(self._fd, b"\n")
        except OSError as exc:
            raise LogWriteError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        return True

    def append(self, line: bytes) -> None:
        self._buffer.append(line)
        self._buffer.append(b"\n")
        self._buffered += len(line) + 1
        self.lines_written += 1
        if self._buffered >= _FLUSH_BYTES:
            self.flush()

    def append_lines(self, data: bytes, lines: int) -> None:
        """Append ``lines`` complete lines already joined (each ending in a newline)."""
        if not data:
            return
        self._buffer.append(data)
        self._buffered += len(data)
        self.lines_written += lines
        if self._buffered >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._buffer or self._fd is None:
            return
        data = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        view = memoryview(data)
        self.bytes_written += len(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise LogWriteError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, line without its newline), streaming; blank lines skipped."""
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            stripped = line.rstrip(b"\r\n")
            if stripped.strip():
                yield number, stripped


#: How long a run waits for another run in the same log to finish its write.
LOCK_TIMEOUT_S = 600.0
_LOCK_POLL_S = 0.05


class LogLock:
    """An exclusive ``flock`` on runtime.jsonl itself, held while one run writes it.

    Every beacon run that appends, and every rollback of an interrupted run,
    holds it, in any base dir that shares the log. A lock held on a file that
    was since replaced (a rollback renames a rewritten copy over the log) is
    worth nothing: after locking, the path must still name the locked file,
    else the lock is taken again on the new one. ``adopt`` hands the lock over
    to a rewritten copy, locked before it was renamed into place.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def acquire(
        cls,
        path: Path,
        *,
        timeout_s: float = LOCK_TIMEOUT_S,
        create: bool = True,
        on_wait: Callable[[], None] | None = None,
    ) -> LogLock | None:
        """The lock; None when ``timeout_s`` passed first, or the file is missing and
        ``create`` is False. ``on_wait``: called once if another run holds it."""
        deadline = time.monotonic() + timeout_s
        flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0) | (os.O_CREAT if create else 0)
        while True:
            try:
                if create:
                    path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, flags, FILE_MODE)
            except FileNotFoundError:
                if create:
                    raise LogWriteError(f"cannot open {path}: it vanished") from None
                return None
            except OSError as exc:
                raise LogWriteError(f"cannot open {path}: {exc.strerror or exc}") from exc
            try:
                locked = lock_exclusive(fd, deadline, _LOCK_POLL_S, on_wait=on_wait)
                on_wait = None
            except OSError as exc:
                os.close(fd)
                raise LogWriteError(f"cannot lock {path}: {exc.strerror or exc}") from exc
            if not locked:
                os.close(fd)
                return None
            if _same_file(fd, path):
                return cls(path, fd)
            os.close(fd)  # replaced while we waited: lock the file the path names now

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def adopt(self, fd: int) -> None:
        """Hold the lock through ``fd`` (already locked, now at ``path``) instead."""
        old, self.fd = self.fd, fd
        os.close(old)

    def sync(self) -> None:
        """Force the log's data to disk (before the ledger says it is there)."""
        os.fsync(self.fd)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = path.stat()
    except OSError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)
