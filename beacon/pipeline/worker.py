"""The second core: a worker process turns chunks of spool lines into checked runtime lines.

For a large spool ``run_pipeline`` starts ``python -P -m beacon.pipeline.worker``
and shares the chunks with it: the worker takes a chunk whenever it has fewer
than ``MAX_IN_FLIGHT`` waiting, the pipeline process does the others itself,
and writes every chunk's lines in spool order. Both run the same
``ChunkProcessor``, so who processed a chunk changes nothing in the output.

Protocol (pipes, length-prefixed): on stdin, one settings frame
(``ChunkSettings.to_json``), then one frame per chunk: ``<BQ`` (last chunk of
the spool?, length) + the chunk. On stdout, one frame per chunk, in order:
``<QQ`` (header length, data length) + ``ChunkResult.header()`` + the lines.
stdin closed: the worker exits. The worker holds no secret beyond what the
settings frame gave it, and never writes to runtime.jsonl itself.

If the worker cannot start, dies or stops answering, the pipeline process
processes the chunks it held itself (``Worker.failed``): same output, slower.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from beacon.pipeline.chunks import ChunkProcessor, ChunkResult, ChunkSettings

_IN = struct.Struct("<BQ")
_OUT = struct.Struct("<QQ")
# Chunks given to the worker and not yet answered: one being processed, one queued,
# so it never waits for the pipeline process between chunks.
MAX_IN_FLIGHT = 2
# Pipe capacity asked for (Linux; the unprivileged maximum): two chunks and two answers
# fit, so neither side blocks on the other while it is busy with its own chunk.
_PIPE_BYTES = 1 << 20
# How long the pipeline process waits for one answer before it gives up on the worker.
ANSWER_TIMEOUT_SECONDS = 300.0


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    if data is None or len(data) < size:
        return None
    return data


def worker_main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    head = _read_exactly(stdin, 8)
    if head is None:
        return 1
    (length,) = struct.unpack("<Q", head)
    processor = ChunkProcessor(ChunkSettings.from_json(_read_exactly(stdin, length) or b""))
    while True:
        head = _read_exactly(stdin, _IN.size)
        if head is None:
            return 0
        last, length = _IN.unpack(head)
        chunk = _read_exactly(stdin, length)
        if chunk is None:
            return 1
        result = processor.process(chunk, last=bool(last))
        header = result.header()
        stdout.write(_OUT.pack(len(header), len(result.data)) + header + result.data)
        stdout.flush()


class Worker:
    """The pipeline process's handle on the worker: submit chunks, take answers in order.

    Both pipe ends are non-blocking here and every wait is a ``select`` on both,
    so this process drains answers while it hands over a chunk: neither side can
    block the other for good, whatever the sizes.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.in_flight: list[tuple[bytes, bool]] = []  # kept to redo them if the worker fails
        self.failed = False
        self._to_worker = process.stdin.fileno()
        self._from_worker = process.stdout.fileno()
        self._received = bytearray()
        self._answers: list[ChunkResult] = []
        for fd in (self._to_worker, self._from_worker):
            os.set_blocking(fd, False)
            with contextlib.suppress(OSError, AttributeError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)

    @classmethod
    def start(cls, settings: ChunkSettings) -> Worker | None:
        """Start the worker (None if it cannot start: every chunk is then done here)."""
        try:
            process = subprocess.Popen(
                [sys.executable, "-P", "-m", "beacon.pipeline.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_child_environ(),
            )
        except OSError:
            return None
        worker = cls(process)
        payload = settings.to_json()
        worker._send(struct.pack("<Q", len(payload)) + payload)
        return worker

    @property
    def has_room(self) -> bool:
        return not self.failed and len(self.in_flight) < MAX_IN_FLIGHT

    def submit(self, chunk: bytes, *, last: bool) -> None:
        self.in_flight.append((chunk, last))
        self._send(_IN.pack(int(last), len(chunk)) + chunk)

    def answer(self, *, wait: bool) -> ChunkResult | None:
        """The answer for the oldest chunk in flight; None if not ready (or the worker failed:
        then ``failed`` is set and ``in_flight`` holds the chunks to do elsewhere)."""
        if self.failed or not self.in_flight:
            return None
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        self._pump(b"", 0)
        while not self._answers and wait and not self.failed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail()
                break
            self._pump(b"", remaining)
        if not self._answers:
            return None
        self.in_flight.pop(0)
        return self._answers.pop(0)

    def close(self) -> None:
        """Let the worker exit (or end it if it failed or still holds chunks: the run
        stopped early); waits for it, bounded."""
        if self.in_flight:
            self._fail()
        stdin = self.process.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()
        try:
            self.process.wait(timeout=10 if not self.failed else 0.01)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _send(self, data: bytes) -> None:
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        view = memoryview(data)
        while view and not self.failed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail()
                return
            view = self._pump(view, remaining)

    def _pump(self, outgoing: memoryview | bytes, timeout: float) -> memoryview:
        """Write what the worker takes of ``outgoing``, read what it answered; returns
        the part not yet written. Waits up to ``timeout`` for either to be possible."""
        view = memoryview(outgoing)
        try:
            readable, writable, _ = select.select(
                [self._from_worker], [self._to_worker] if view else [], [], timeout
            )
            if writable:
                written = os.write(self._to_worker, view)
                view = view[written:]
            if readable:
                data = os.read(self._from_worker, _PIPE_BYTES)
                if not data:
                    self._fail()  # the worker exited before answering everything
                    return view[len(view) :]
                self._received += data
                self._take_answers()
        except (OSError, ValueError, TypeError, KeyError):
            self._fail()
            return view[len(view) :]
        return view

    def _take_answers(self) -> None:
        received = self._received
        while len(received) >= _OUT.size:
            header_length, data_length = _OUT.unpack_from(received)
            end = _OUT.size + header_length + data_length
            if len(received) < end:
                return
            header = bytes(received[_OUT.size : _OUT.size + header_length])
            data = bytes(received[_OUT.size + header_length : end])
            del received[:end]
            self._answers.append(ChunkResult.from_header(header, data))

    def _fail(self) -> None:
        self.failed = True
        if self.process.poll() is None:
            self.process.kill()


def _child_environ() -> dict[str, str]:
    # The worker must import this same beacon, wherever the parent found it; ``-P`` keeps
    # a ``beacon`` folder in the job's working directory from shadowing it.
    environ = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, environ.get("PYTHONPATH", "")) if p)
    return environ


if __name__ == "__main__":
    raise SystemExit(worker_main())
