"""runtime.jsonl on disk: an appending writer and a streaming line reader."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from beacon.errors import BeaconError
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
