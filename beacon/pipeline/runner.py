"""``run_pipeline``: the one entry point from a spool to a validated runtime.jsonl.

spool -> normalize -> redact/sanitize/truncate/cap -> append to runtime.jsonl
-> summary line -> validate. Streaming: memory does not grow with the spool.
"""

from __future__ import annotations

import platform
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beacon import __version__
from beacon.ci.providers import run_context
from beacon.errors import SpoolError
from beacon.pipeline.decode import rfc3339
from beacon.pipeline.follow import Follower
from beacon.pipeline.jsonl import JsonlAppender
from beacon.pipeline.normalize import (
    SUMMARY_ACTION,
    LineContext,
    NormalizeStats,
    base_line,
    normalize,
)
from beacon.pipeline.protect import LineProtector
from beacon.pipeline.redact import Redactor
from beacon.pipeline.settings import PipelineOptions
from beacon.pipeline.validate import SpoolHealth, ValidationResult, validate_log


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
    )


def make_protector(options: PipelineOptions) -> LineProtector:
    redactor = Redactor(
        literal_values=options.redaction.env_values,
        user_patterns=options.redaction.compiled_patterns(),
    )
    return LineProtector(
        redactor=redactor,
        max_field_bytes=options.max_field_bytes,
        max_line_bytes=options.max_line_bytes,
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


def process_requests(
    requests: Iterable[tuple[str, Mapping[str, Any]]],
    options: PipelineOptions,
    writer: JsonlAppender,
    spool_health: Any = None,
) -> tuple[int, dict[str, int], dict[str, int], NormalizeStats, SpoolHealth]:
    """Normalize, protect and append every request's lines, then the summary line.

    ``spool_health``: called after ``requests`` is exhausted for the reader's findings.
    Returns (events written, actions, redaction totals, stats, spool health).
    """
    protector = make_protector(options)
    ctx = make_context(options, protector)
    stats = NormalizeStats()
    actions: dict[str, int] = {}
    written = 0
    for line in normalize(requests, ctx, stats):
        action = line["event"]["action"]
        actions[action] = actions.get(action, 0) + 1
        writer.append(protector.protect(line))
        written += 1
    health = spool_health() if callable(spool_health) else SpoolHealth()
    summary = summary_line(
        ctx,
        actions=actions,
        stats=stats,
        redactions=protector.totals,
        events_written=written,
        spool=health,
    )
    writer.append(protector.protect(summary))
    return written, actions, dict(protector.totals), stats, health


def _spool_requests(reader: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for record in reader:
        yield record.signal, record.payload


def _spool_size(spool_path: Path) -> int:
    try:
        return Path(spool_path).stat().st_size
    except OSError:
        return 0


def run_pipeline(spool_path: Path, options: PipelineOptions) -> PipelineResult:
    """Turn the spool into runtime.jsonl lines for ``options.session_id`` and validate them.

    A missing spool is not an error: the run still gets its summary line and
    validation reports what is missing (usually: no events). A large spool is
    validated on the second core while it is processed (``follow.py``).
    """
    from beacon.spool import read_spool

    reader: Any = None
    requests: Iterable[tuple[str, Mapping[str, Any]]] = ()
    missing = False
    try:
        reader = read_spool(Path(spool_path))
        requests = _spool_requests(reader)
    except SpoolError:
        missing = not Path(spool_path).exists()
        if not missing:
            raise

    def health() -> SpoolHealth:
        if reader is None:
            return SpoolHealth(missing=missing)
        return SpoolHealth(truncated_tail=reader.truncated_tail, bad_lines=reader.bad_lines)

    log_path = Path(options.log_path)
    follower: Follower | None = None
    try:
        with JsonlAppender(log_path) as writer:
            if _spool_size(spool_path) >= options.concurrent_validation_min_bytes:
                follower = Follower.start(
                    log_path,
                    session_id=options.session_id,
                    harnesses=options.harnesses,
                    min_events=options.min_events,
                    require_actions=options.require_actions,
                )
            written, actions, redactions, stats, spool = process_requests(
                requests, options, writer, health
            )
        validation = follower.finish(spool) if follower is not None else None
    finally:
        if follower is not None and follower.process.returncode is None:
            follower.abandon()
    if validation is None:
        validation = validate_log(
            log_path,
            session_id=options.session_id,
            harnesses=options.harnesses,
            min_events=options.min_events,
            require_actions=options.require_actions,
            spool_health=spool,
        )
    return PipelineResult(
        events_written=written,
        redactions=redactions,
        validation=validation,
        spool_truncated_tail=spool.truncated_tail,
        spool_bad_lines=spool.bad_lines,
        spool_missing=spool.missing,
        actions=actions,
        malformed_records=stats.malformed,
    )
