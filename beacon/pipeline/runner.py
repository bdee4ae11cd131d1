"""``run_pipeline``: the one entry point from a spool to a validated runtime.jsonl.

spool -> normalize -> redact/sanitize/truncate/cap -> append to runtime.jsonl
-> summary line -> validate. Streaming: memory does not grow with the spool.
"""

from __future__ import annotations

import platform
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from beacon import __version__
from beacon.ci.providers import run_context
from beacon.errors import SpoolError
from beacon.pipeline.chunks import ChunkProcessor, ChunkResult, ChunkSettings, make_protector
from beacon.pipeline.decode import rfc3339
from beacon.pipeline.jsonl import JsonlAppender
from beacon.pipeline.normalize import SUMMARY_ACTION, LineContext, NormalizeStats, base_line
from beacon.pipeline.protect import LineProtector
from beacon.pipeline.redact import merge_counts
from beacon.pipeline.settings import PipelineOptions
from beacon.pipeline.validate import (
    LogScan,
    SpoolHealth,
    ValidationResult,
    validate_log,
    verdict,
)
from beacon.pipeline.worker import Worker


@dataclass(frozen=True)
class PipelineResult:
    events_written: int
    redactions: dict[str, int]
    validation: ValidationResult
    spool_truncated_tail: bool = False
    spool_bad_lines: int = 0
    spool_missing: bool = False
    actions: dict[str, int] = field(default_factory=dict)
    malformed_records: int = 0
    log_tail_repaired: bool = False
    """runtime.jsonl ended in a torn line (a writer killed mid-line); it was ended."""


def endpoint_os() -> str:
    return platform.system().lower() or "unknown"


def endpoint_hostname() -> str:
    return socket.gethostname() or "unknown"


def make_context(options: PipelineOptions, protector: LineProtector) -> LineContext:
    run = protector.protect_trusted_value(run_context(options.environ))
    return LineContext(
        session_id=options.session_id,
        hostname=endpoint_hostname(),
        os=endpoint_os(),
        agent_version=__version__,
        now_nanos=time.time_ns(),
        working_directory=options.working_directory,
        run=run,
        withheld=options.withheld,
    )


def summary_line(
    ctx: LineContext,
    *,
    actions: Mapping[str, int],
    stats: NormalizeStats,
    redactions: Mapping[str, int],
    events_written: int,
    spool: SpoolHealth,
) -> dict[str, Any]:
    """The run summary: the last line of every run (harness ``beacon``)."""
    line = base_line(ctx, rfc3339(time.time_ns()), SUMMARY_ACTION, ("beacon", __version__))
    line["message"] = f"beacon run {ctx.session_id}: {events_written} events"
    session: dict[str, str] = {}
    if ctx.working_directory:
        session["working_directory"] = ctx.working_directory
    if session:
        line["session"] = session
    line["content"] = {"redacted": bool(redactions), "truncated": False}
    line["field_truncated"] = False
    line["beacon"] = {
        "session_id": ctx.session_id,
        "source": {"signal": "beacon", "event_name": "beacon.summary"},
        "truncated_fields": [],
        "redactions": {},
        "summary": {
            "actions": dict(sorted(actions.items())),
            "records": dict(stats.records),
            "requests": dict(stats.requests),
            "redactions": dict(sorted(redactions.items())),
            "events_written": events_written,
            "malformed_records": stats.malformed,
            "spool": {
                "truncated_tail": spool.truncated_tail,
                "bad_lines": spool.bad_lines,
                "missing": spool.missing,
            },
        },
    }
    return line


# Spool bytes per chunk: large enough that passing a chunk costs little, small enough
# that the chunks in flight stay a few MB.
CHUNK_BYTES = 256 << 10
# Chunks processed here that wait for an earlier chunk of the worker (bounds memory:
# ~0.35 MB of lines each). The worker starts late and runs a little slower than
# this process; with 4 this process stood idle ~8 % of a 100k-event run waiting for it,
# with 12 under 1 % (docs/performance.md).
_MAX_WAITING = 12


def _spool_chunks(spool: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """(whole spool lines, is it the spool's end), ~``CHUNK_BYTES`` at a time.

    The spool's last line may lack its newline (a writer stopped mid-line): it
    ends the last chunk as it is.
    """
    tail: list[bytes] = []  # the current line's start, while no newline has come
    held: bytes | None = None
    while True:
        block = spool.read(CHUNK_BYTES)
        if not block:
            break
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            tail.append(block)  # a line longer than a chunk: read on (joined once)
            continue
        data = b"".join([*tail, block[:cut]])
        tail = [block[cut:]] if cut < len(block) else []
        if held is not None:
            yield held, False
        held = data
    if tail:
        held = b"".join([held or b"", *tail])
    if held is not None:
        yield held, True


def _scan_existing(log_path: Path, size: int, scan: LogScan) -> tuple[int, bool]:
    """Check the lines the log held before this run (``validate_log``'s numbering).

    Returns (lines in those bytes, blank ones included; do they end on a newline).
    """
    if size == 0:
        return 0, True
    number = 0
    with log_path.open("rb") as log:
        remaining = size
        pending = b""
        while remaining > 0:
            block = log.read(min(CHUNK_BYTES, remaining))
            if not block:
                break
            remaining -= len(block)
            *complete, pending = (pending + block).split(b"\n")
            for line in complete:
                number += 1
                stripped = line.rstrip(b"\r")
                if stripped.strip():
                    scan.add(number, stripped)
    return number, not pending and remaining == 0


class _Totals:
    """The run's counts, summed over its chunks in spool order."""

    def __init__(self, protector: LineProtector) -> None:
        self.protector = protector
        self.stats = NormalizeStats()
        self.actions: dict[str, int] = {}
        self.written = 0
        self.bad_lines = 0
        self.truncated_tail = False

    def add(self, result: ChunkResult) -> None:
        self.written += result.lines
        for table, counts in (
            (self.actions, result.actions),
            (self.stats.requests, result.requests),
            (self.stats.records, result.records),
        ):
            for key, value in counts.items():
                table[key] = table.get(key, 0) + value
        self.stats.malformed += result.malformed
        merge_counts(self.protector.totals, result.redactions)
        self.bad_lines += result.bad_lines
        self.truncated_tail = self.truncated_tail or result.truncated_tail


def _process_chunks(
    chunks: Iterator[tuple[bytes, bool]],
    processor: ChunkProcessor,
    worker: Worker | None,
) -> Iterator[ChunkResult]:
    """Every chunk's result in spool order; the worker takes chunks while it has room."""
    # Spool order: ("worker", None) for a chunk given to the worker, else its result.
    order: list[ChunkResult | None] = []

    def ready(wait: bool) -> Iterator[ChunkResult]:
        while order:
            head = order[0]
            if head is None:
                assert worker is not None
                answer = worker.answer(wait=wait)
                if answer is None:
                    if not worker.failed:
                        return
                    # The worker is gone: do its chunks here, in their places.
                    redo = iter(worker.in_flight)
                    worker.in_flight = []
                    for index, item in enumerate(order):
                        if item is None:
                            chunk, last = next(redo)
                            order[index] = processor.process(chunk, last=last)
                    continue
                head = answer
            order.pop(0)
            yield head

    for chunk, last in chunks:
        if worker is not None and worker.has_room:
            worker.submit(chunk, last=last)
            order.append(None)
        else:
            order.append(processor.process(chunk, last=last))
        yield from ready(wait=len(order) > _MAX_WAITING)
    yield from ready(wait=True)


def run_pipeline(spool_path: Path, options: PipelineOptions) -> PipelineResult:
    """Turn the spool into runtime.jsonl lines for ``options.session_id`` and validate them.

    A missing spool is not an error: the run still gets its summary line and
    validation reports what is missing (usually: no events). Every line is
    checked as it is written, from the bytes written; the lines the log held
    before are read and checked too, so the verdict is ``validate_log``'s on
    the whole file. A large spool is shared with a worker process on the
    second core (``worker.py``).
    """
    spool_path = Path(spool_path)
    spool: IO[bytes] | None = None
    try:
        spool = spool_path.open("rb")
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SpoolError(f"cannot read spool {spool_path}: {exc.strerror or exc}") from exc
    missing = spool is None
    protector = make_protector(options.redaction, options.max_field_bytes, options.max_line_bytes)
    ctx = make_context(options, protector)
    spool_size = _spool_size(spool_path) if spool is not None else 0
    settings = ChunkSettings(
        ctx=ctx,
        redaction=options.redaction,
        max_field_bytes=options.max_field_bytes,
        max_line_bytes=options.max_line_bytes,
        harnesses=options.harnesses,
        fast_paths=options.fast_paths and spool_size >= options.fast_min_bytes,
    )
    processor = ChunkProcessor(settings)
    totals = _Totals(protector)
    log_path = Path(options.log_path)
    scan = LogScan(session_id=options.session_id, harnesses=options.harnesses)
    worker: Worker | None = None
    try:
        with JsonlAppender(log_path) as writer:
            if spool is not None and spool_size >= options.parallel_min_bytes:
                worker = Worker.start(settings)
            file_lines, clean_start = _scan_existing(log_path, writer.initial_size, scan)
            chunks = _spool_chunks(spool) if spool is not None else iter(())
            for result in _process_chunks(chunks, processor, worker):
                writer.append_lines(result.data, result.lines)
                scan.absorb(result.check, file_lines)
                file_lines += result.lines
                totals.add(result)
            health = SpoolHealth(
                truncated_tail=totals.truncated_tail, bad_lines=totals.bad_lines, missing=missing
            )
            summary = protector.protect(
                summary_line(
                    ctx,
                    actions=totals.actions,
                    stats=totals.stats,
                    redactions=protector.totals,
                    events_written=totals.written,
                    spool=health,
                )
            )
            writer.append(summary)
            scan.add(file_lines + 1, summary)
    finally:
        if spool is not None:
            spool.close()
        if worker is not None:
            worker.close()
    if clean_start and _spool_size(log_path) == writer.initial_size + writer.bytes_written:
        validation = verdict(
            log_path,
            scan,
            min_events=options.min_events,
            require_actions=options.require_actions,
            spool_health=health,
        )
    else:
        # The log did not end on a newline, or another process appended meanwhile:
        # what was checked is not the file. Read the file itself.
        validation = validate_log(
            log_path,
            session_id=options.session_id,
            harnesses=options.harnesses,
            min_events=options.min_events,
            require_actions=options.require_actions,
            spool_health=health,
        )
    return PipelineResult(
        events_written=totals.written,
        redactions=dict(protector.totals),
        validation=validation,
        spool_truncated_tail=health.truncated_tail,
        spool_bad_lines=health.bad_lines,
        spool_missing=health.missing,
        actions=totals.actions,
        malformed_records=totals.stats.malformed,
        log_tail_repaired=writer.repaired_tail,
    )


def _spool_size(spool_path: Path) -> int:
    try:
        return Path(spool_path).stat().st_size
    except OSError:
        return 0
