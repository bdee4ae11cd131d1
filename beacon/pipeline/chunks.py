"""One chunk of spool lines -> its runtime lines, checked (the unit both cores work on).

A chunk is a run of whole spool lines (``bytes``, each ending in a newline,
except possibly the spool's very last). ``ChunkProcessor.process`` reads each
line as ``SpoolReader`` does, normalizes, protects and serializes its records,
then checks every produced line exactly as validation checks a line of the
file (parse the bytes, schema, this run's counts). Nothing carries over from
one chunk to the next except caches, so the concatenated output of any split
into chunks is the output of the whole spool, processed by this process or by
the worker (``worker.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from beacon.gctune import paused_gc
from beacon.otlp import parse_spool_line
from beacon.pipeline.normalize import FastLogLine, LineContext, NormalizeStats, normalize
from beacon.pipeline.protect import LineProtector
from beacon.pipeline.redact import Counts, Redactor, merge_counts
from beacon.pipeline.settings import RedactionSettings
from beacon.pipeline.validate import LineFacts, LogScan, load_schema


@dataclass
class ChunkResult:
    """A chunk's runtime lines (``data``: each line followed by a newline) and its counts."""

    data: bytes
    lines: int
    actions: dict[str, int]
    redactions: Counts
    requests: dict[str, int]
    records: dict[str, int]
    malformed: int
    bad_lines: int
    truncated_tail: bool
    check: dict[str, Any] = field(default_factory=dict)  # ``LogScan.to_wire`` of ``data``

    def header(self) -> bytes:
        """Everything but ``data``, as JSON (the worker's reply carries ``data`` raw)."""
        return orjson.dumps(
            {
                "lines": self.lines,
                "actions": self.actions,
                "redactions": self.redactions,
                "requests": self.requests,
                "records": self.records,
                "malformed": self.malformed,
                "bad_lines": self.bad_lines,
                "truncated_tail": self.truncated_tail,
                "check": self.check,
            }
        )

    @classmethod
    def from_header(cls, header: bytes, data: bytes) -> ChunkResult:
        fields = orjson.loads(header)
        return cls(data=data, **fields)


@dataclass(frozen=True)
class ChunkSettings:
    """What a process needs to turn chunks into lines (sent to the worker on its stdin:
    it holds secrets to redact, which must never appear in a command line)."""

    ctx: LineContext
    redaction: RedactionSettings
    max_field_bytes: int
    max_line_bytes: int
    harnesses: tuple[str, ...]
    fast_paths: bool = False  # build the line scan and the typed check (big spools only)

    def to_json(self) -> bytes:
        ctx = self.ctx
        return orjson.dumps(
            {
                "ctx": {
                    "session_id": ctx.session_id,
                    "hostname": ctx.hostname,
                    "os": ctx.os,
                    "agent_version": ctx.agent_version,
                    "now_nanos": ctx.now_nanos,
                    "working_directory": ctx.working_directory,
                    "run": dict(ctx.run),
                    "withheld": sorted(ctx.withheld),
                },
                "env_values": list(self.redaction.env_values),
                "patterns": list(self.redaction.patterns),
                "max_field_bytes": self.max_field_bytes,
                "max_line_bytes": self.max_line_bytes,
                "harnesses": list(self.harnesses),
                "fast_paths": self.fast_paths,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> ChunkSettings:
        fields = orjson.loads(data)
        ctx_fields = fields["ctx"]
        ctx_fields["withheld"] = frozenset(ctx_fields.get("withheld", ()))
        return cls(
            ctx=LineContext(**ctx_fields),
            redaction=RedactionSettings(
                env_values=tuple(fields["env_values"]), patterns=tuple(fields["patterns"])
            ),
            max_field_bytes=int(fields["max_field_bytes"]),
            max_line_bytes=int(fields["max_line_bytes"]),
            harnesses=tuple(fields["harnesses"]),
            fast_paths=bool(fields["fast_paths"]),
        )


def make_protector(
    redaction: RedactionSettings, max_field_bytes: int, max_line_bytes: int
) -> LineProtector:
    redactor = Redactor(
        literal_values=redaction.env_values, user_patterns=redaction.compiled_patterns()
    )
    return LineProtector(
        redactor=redactor, max_field_bytes=max_field_bytes, max_line_bytes=max_line_bytes
    )


# Claude Code's log requests straight from spool bytes (``claudespool``): the lines, or
# None for a spool line the general path must read.
ClaudeSpool = Callable[[bytes, LineContext, NormalizeStats], "list[dict[str, Any]] | None"]


def claude_spool() -> ClaudeSpool | None:
    """``claudespool``'s decode and mapping in one call, or None without msgspec."""
    try:
        from beacon.pipeline.claudespool import claude_request_lines, decode_claude_request
    except ImportError:
        return None

    def lines(piece: bytes, ctx: LineContext, stats: NormalizeStats) -> list[dict[str, Any]] | None:
        request = decode_claude_request(piece)
        return None if request is None else claude_request_lines(request, ctx, stats)

    return lines


def typed_check() -> Callable[[bytes], LineFacts | None] | None:
    """The typed line check (``typedcheck``), or None without msgspec or for a schema it
    cannot express: then every line gets the usual check."""
    try:
        from beacon.pipeline.schemacheck import UnsupportedSchema
        from beacon.pipeline.typedcheck import facts_decoder
    except ImportError:
        return None
    try:
        return facts_decoder(load_schema())
    except UnsupportedSchema:
        return None


def split_lines(data: bytes) -> list[bytes]:
    """``data.split(b"\\n")``, in a fifth of the instructions for long lines: ``split``
    compares byte by byte, ``find`` runs memchr (a spool line is ~100 kB)."""
    pieces = []
    find = data.find
    start = 0
    end = find(b"\n")
    while end != -1:
        pieces.append(data[start:end])
        start = end + 1
        end = find(b"\n", start)
    pieces.append(data[start:])
    return pieces


class ChunkProcessor:
    """Turns chunks into checked runtime lines; one per process, reused for every chunk."""

    def __init__(self, settings: ChunkSettings) -> None:
        self.settings = settings
        self.protector = make_protector(
            settings.redaction, settings.max_field_bytes, settings.max_line_bytes
        )
        self.typed: Callable[[bytes], LineFacts | None] | None = None
        self.fast_logs: FastLogLine | None = None
        self.claude_spool: ClaudeSpool | None = None
        if settings.fast_paths:
            from beacon.pipeline.claudelogs import claude_log_line
            from beacon.pipeline.linescan import scanner_for

            self.protector.scanner = scanner_for(self.protector.redactor)
            self.typed = typed_check()
            self.fast_logs = claude_log_line
            self.claude_spool = claude_spool()

    def process(self, chunk: bytes, *, last: bool) -> ChunkResult:
        """``last``: the chunk ends the spool (its last line may be a writer's partial line)."""
        with paused_gc():
            return self._process(chunk, last=last)

    def _process(self, chunk: bytes, *, last: bool) -> ChunkResult:
        pieces = split_lines(chunk)
        # A chunk ends with a newline unless the spool's last line lacks it: that line is
        # a partial one, never read (``SpoolReader``: truncated tail).
        tail = pieces.pop()
        truncated_tail = bool(tail)
        bad_lines = 0
        settings = self.settings
        protector = self.protector
        protector.totals = {}
        stats = NormalizeStats()
        actions: dict[str, int] = {}
        out: list[bytes] = []
        check = LogScan.part(settings.ctx.session_id, settings.harnesses, self.typed)
        final_index = len(pieces) - 1 if last and not truncated_tail else -1
        claude_spool = self.claude_spool
        for index, piece in enumerate(pieces):
            lines: Iterable[dict[str, Any]] | None
            lines = claude_spool(piece, settings.ctx, stats) if claude_spool else None
            if lines is None:
                request = parse_spool_line(piece)
                if request is None:
                    if index == final_index:
                        truncated_tail = True  # the last line did not parse: a writer stopped
                    else:
                        bad_lines += 1
                    continue
                lines = normalize((request,), settings.ctx, stats, fast_logs=self.fast_logs)
            for line in lines:
                action = line["event"]["action"]
                actions[action] = actions.get(action, 0) + 1
                data = protector.protect(line)
                out.append(data)
                check.add(len(out), data)
        out.append(b"")
        redactions: Counts = {}
        merge_counts(redactions, protector.totals)
        return ChunkResult(
            data=b"\n".join(out) if len(out) > 1 else b"",
            lines=len(out) - 1,
            actions=actions,
            redactions=redactions,
            requests=stats.requests,
            records=stats.records,
            malformed=stats.malformed,
            bad_lines=bad_lines,
            truncated_tail=truncated_tail,
            check=check.to_wire(),
        )
