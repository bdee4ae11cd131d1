"""The spool: the file that joins the collector and the pipeline.

One line per accepted export request, OTLP/JSON as the OpenTelemetry
Collector's file exporter writes it (see ``beacon.otlp.codec``). The top-level
key of a line names its signal.

``SpoolWriter`` is the only writer. Its file I/O runs on one dedicated thread,
which both keeps the event loop free and serializes the appends, so lines
never interleave. Appends that arrive while a write is under way are batched
into the next single write, so concurrent exports cost one thread hop, not one
each. ``append`` returns only once its line has reached the OS (``os.write``
on an unbuffered descriptor), which is what lets the collector acknowledge an
export only after it is stored. A failed write is rolled back (the file is
truncated to the last whole line) and fails every append of its batch, so a
reader never sees half a record from a failure the writer survived.

Durability (``FsyncMode``): an acknowledged line has reached the OS, so a
crash of the *process* loses nothing acknowledged. A crash of the *host*
(power loss, kernel panic) may lose what the OS had not written to disk yet:
with ``always`` nothing acknowledged (each batch is ``fdatasync``ed before
its appends return); with ``batch`` (the default) at most the last
``BATCH_SYNC_S`` of acknowledged lines (a sync at most that often while
writes arrive, and once after the last); with ``off`` whatever the OS had
not flushed (the spool is synced only when it closes).

``read_spool`` is the tolerant reader: it streams, counts lines it cannot
use, and reports a truncated last line (a writer killed mid-write) instead
of failing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

from beacon.errors import SpoolError
from beacon.otlp import parse_spool_line

_FILE_MODE: Final = 0o600

FsyncMode = Literal["always", "batch", "off"]
FSYNC_MODES: Final[tuple[FsyncMode, ...]] = ("always", "batch", "off")
#: ``batch`` mode: the longest a written line waits for its fdatasync.
BATCH_SYNC_S: Final = 0.1


def _aside_name(path: Path) -> Path:
    """A free name for a leftover spool: ``<name>.<UTC timestamp>[.<n>]``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    candidate = path.with_name(f"{path.name}.{stamp}")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}.{n}")
        n += 1
    return candidate


class SpoolWriter:
    """Single writer of a spool file.

    Lifecycle: ``await open()`` once (creates the file fresh, mode 0600; a
    leftover file from an earlier run is renamed aside, never appended to),
    then any number of concurrent ``await append(line)``, then ``await
    close()`` (idempotent, safe before ``open``). Errors surface as
    ``SpoolError``.
    """

    def __init__(self, path: Path, fsync: FsyncMode = "batch") -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {FSYNC_MODES}, got {fsync!r}")
        self.path = Path(path)
        self.fsync: FsyncMode = fsync
        self.moved_aside: Path | None = None
        self._fd: int | None = None
        self._offset = 0
        self._closed = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        #: Lines waiting for the next write, with the futures of their appends.
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        #: The write under way (None when idle); close() waits for it.
        self._writing: asyncio.Future[None] | None = None
        #: Write calls made (one per batch of lines), for tests and status.
        self.writes = 0
        #: fdatasync calls made (``batch``/``always``), for tests and benchmarks.
        self.syncs = 0
        self.sync_errors = 0
        #: Failed writes whose partial line was truncated away / could not be.
        self.rollbacks = 0
        self.rollback_errors = 0
        self._torn = False
        self._torn_from = 0
        self._last_sync = float("-inf")
        self._unsynced = False
        self._sync_timer: asyncio.TimerHandle | None = None
        self._syncing: asyncio.Future[None] | None = None
        self._sync_executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._sync_waiters: list[asyncio.Future[None]] = []

    @property
    def all_synced(self) -> bool:
        """No acknowledged line waits for a sync (``batch``: true ~100 ms after a burst)."""
        return not self._unsynced and self._syncing is None

    async def wait_all_synced(self) -> None:
        """Return once ``all_synced`` (``batch`` mode; immediate in the other modes)."""
        while not self.all_synced and self.fsync == "batch" and not self._closed:
            self._sync_waiters.append(asyncio.get_running_loop().create_future())
            await self._sync_waiters[-1]

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    async def open(self) -> None:
        if self._fd is not None:
            raise SpoolError(f"spool {self.path} is already open")
        if self._closed:
            raise SpoolError(f"spool {self.path} was closed; create a new SpoolWriter")
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="beacon-spool"
        )
        if self.fsync == "batch":
            self._sync_executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="beacon-spool-sync"
            )
        try:
            await self._run(self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            if self._sync_executor is not None:
                self._sync_executor.shutdown(wait=False)
                self._sync_executor = None
            raise

    def _open_sync(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() or self.path.is_symlink():
                self.moved_aside = _aside_name(self.path)
                self.path.rename(self.moved_aside)
            # O_EXCL: if something recreated the file meanwhile, fail rather than share it.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.path, flags, _FILE_MODE)
        except OSError as exc:
            raise SpoolError(f"cannot create spool {self.path}: {exc.strerror or exc}") from exc
        self._offset = 0

    async def _run(self, fn: Any, *args: Any) -> Any:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def append(self, line: bytes) -> None:
        """Write ``line`` + newline and hand it to the OS before returning."""
        if self._fd is None or self._executor is None or self._closed:
            raise SpoolError(f"spool {self.path} is not open")
        if b"\n" in line:
            # A newline inside would split one record into two broken lines.
            raise ValueError("a spool line must not contain a newline")
        done = asyncio.get_running_loop().create_future()
        self._pending.append((line, done))
        if self._writing is None:
            self._write_pending()
        # shield: a cancelled caller must not cancel the batch's bookkeeping;
        # its line is written anyway (as with any write already handed over).
        await asyncio.shield(done)

    def _write_pending(self) -> None:
        """Hand every pending line to the writer thread as one write."""
        assert self._executor is not None
        batch, self._pending = self._pending, []
        lines = [line for line, _ in batch]
        self.writes += 1
        writing = asyncio.get_running_loop().run_in_executor(
            self._executor, self._append_lines_sync, lines
        )
        self._writing = writing
        writing.add_done_callback(lambda f: self._written(f, batch))

    def _written(self, writing: asyncio.Future[None], batch: list[Any]) -> None:
        error = writing.exception()
        if error is None and self.fsync == "batch":
            self._unsynced = True
            self._maybe_sync()
        for _, done in batch:
            if done.done():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        if self._pending:
            self._write_pending()
        else:
            self._writing = None

    def _append_lines_sync(self, lines: list[bytes]) -> None:
        lines.append(b"")
        before = self._offset
        self._append_sync(b"\n".join(lines))
        if self.fsync == "always":
            try:
                self._sync_sync()
            except OSError as exc:
                # Not durable, so not acknowledged: the lines go, the appends fail.
                assert self._fd is not None
                written, self._offset = self._offset - before, before
                self._roll_back(self._fd, written)
                raise SpoolError(
                    f"cannot sync spool {self.path} to disk: {exc.strerror or exc}",
                    hint="disk full?" if exc.errno == errno.ENOSPC else None,
                ) from exc

    def _sync_sync(self) -> None:
        fd = self._fd
        if fd is None:
            return
        self.syncs += 1
        os.fdatasync(fd)

    # batch mode: syncs run on a thread of their own, so an ack never waits for
    # the disk; at most one at a time, at most one per BATCH_SYNC_S, and one
    # after the last write of a burst. All bookkeeping is on the loop thread.

    def _maybe_sync(self) -> None:
        if self._syncing is not None or not self._unsynced or self._closed:
            return  # a running sync re-checks when it ends; closing syncs anyway
        if self._sync_executor is None:
            return
        loop = asyncio.get_running_loop()
        due_in = self._last_sync + BATCH_SYNC_S - loop.time()
        if due_in > 0:
            if self._sync_timer is None:
                self._sync_timer = loop.call_later(due_in, self._sync_timer_fired)
            return
        self._unsynced = False
        self._last_sync = loop.time()
        self._syncing = loop.run_in_executor(self._sync_executor, self._sync_sync)
        self._syncing.add_done_callback(self._synced)

    def _sync_timer_fired(self) -> None:
        self._sync_timer = None
        self._maybe_sync()

    def _synced(self, syncing: asyncio.Future[None]) -> None:
        self._syncing = None
        if syncing.cancelled() or syncing.exception() is not None:
            # The lines were acknowledged as written to the OS already: a failed
            # sync is counted, never turned into a refusal after the fact.
            self.sync_errors += 1
        if not self._closed:
            self._maybe_sync()
        waiters, self._sync_waiters = self._sync_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _append_sync(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise SpoolError(f"spool {self.path} is closed")
        if self._torn:
            data = self._mend_torn_tail(fd) + data
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, view[written:])
        except OSError as exc:
            self._roll_back(fd, written)
            raise SpoolError(
                f"cannot write spool {self.path}: {exc.strerror or exc}",
                hint="disk full?" if exc.errno == errno.ENOSPC else None,
            ) from exc
        self._offset += written
        self._torn = False  # mended, or ended by this write's leading newline

    def _roll_back(self, fd: int, written: int) -> None:
        """Drop a partly written line so the file ends on a whole line again."""
        if written == 0:
            return  # nothing reached the file
        try:
            os.ftruncate(fd, self._offset)
        except OSError:
            # The file ends mid-line: the next write starts with a newline, so
            # the torn bytes become one bad line and no record is glued to them.
            if not self._torn:
                self._torn_from = self._offset
            self._offset += written
            self._torn = True
            self.rollback_errors += 1
        else:
            self.rollbacks += 1

    def _mend_torn_tail(self, fd: int) -> bytes:
        """Before the next write after a failed rollback: truncate now, or end the torn line."""
        try:
            os.ftruncate(fd, self._torn_from)
        except OSError:
            return b"\n"
        self._offset = self._torn_from
        self._torn = False
        self.rollbacks += 1
        return b""

    async def close(self) -> None:
        """Flush and close; idempotent and safe before ``open``."""
        self._closed = True
        if self._sync_timer is not None:
            self._sync_timer.cancel()  # closing syncs anyway
            self._sync_timer = None
        while self._writing is not None:
            # Appends accepted before close() get written and answered first.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writing)
        if self._syncing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._syncing)
        sync_executor, self._sync_executor = self._sync_executor, None
        if sync_executor is not None:
            sync_executor.shutdown(wait=False)
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sync)
        finally:
            executor.shutdown(wait=False)

    def _close_sync(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass  # fsync is a bonus; the data already reached the OS at append time.
        finally:
            os.close(fd)


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One spool line: its signal and the OTLP/JSON export request."""

    signal: str
    payload: dict[str, Any]


class SpoolReader:
    """Iterate a spool's records once, streaming; then read ``truncated_tail`` and ``bad_lines``.

    ``truncated_tail``: the last line lacked its newline or did not parse (a
    writer stopped mid-line); that line is skipped, not counted as bad.
    ``bad_lines``: other lines that are not an OTLP/JSON export request.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.truncated_tail = False
        self.bad_lines = 0
        self.lines = 0
        try:
            self._file: IO[bytes] | None = self.path.open("rb")
        except FileNotFoundError:
            raise SpoolError(f"spool {self.path} does not exist") from None
        except OSError as exc:
            raise SpoolError(f"cannot read spool {self.path}: {exc.strerror or exc}") from exc

    def __iter__(self) -> Iterator[SpoolRecord]:
        file, self._file = self._file, None
        if file is None:
            raise SpoolError("a SpoolReader can be iterated only once")
        with file:
            pending: bytes | None = None
            for line in file:
                if pending is not None:
                    record = self._parse(pending)
                    if record is None:
                        self.bad_lines += 1
                    else:
                        yield record
                pending = line
            if pending is None:
                return
            record = self._parse(pending) if pending.endswith(b"\n") else None
            if record is None:
                self.truncated_tail = True
            else:
                yield record

    def _parse(self, line: bytes) -> SpoolRecord | None:
        self.lines += 1
        parsed = parse_spool_line(line)
        return None if parsed is None else SpoolRecord(*parsed)


def read_spool(path: Path) -> SpoolReader:
    """Open a spool for reading; raises ``SpoolError`` when it is missing or unreadable."""
    return SpoolReader(path)
