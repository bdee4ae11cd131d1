"""Spool lines of Claude Code log requests decoded straight into typed structs (msgspec).

A fast path of the chunk loop (``chunks.ChunkProcessor``), on with the other fast
paths. The general path parses a spool line into dicts (orjson), then maps each
record (``normalize``, ``claudelogs.claude_log_line``). Here one
``msgspec.json.decode`` builds structs, which are lighter than dicts, and
``claudelogs.claude_line`` maps each record from them: the same lines, built by
the same code.

It takes only what it is sure of, and a spool line it does not take gets the
general path whole, so the output cannot differ:

- the line must be a logs request whose every scope is Claude Code's and whose
  every record the Claude fast path maps (``claude_line`` answers a line);
- the structs forbid unknown fields, and type every value strictly: a string
  where orjson would give a string, an int only within int64, nothing nested
  deeper than an attribute's scalar value. Anything else is a decode error
  here. The int64 bound matters: orjson refuses a line with an integer too
  large for a double (a bad spool line), where an unbounded msgspec int would
  read it. Escapes, surrogates included, the two decoders read alike (the
  tests hold it).

tests/pipeline/test_claudespool.py holds the two paths to the same lines and
counts, over the recorded runs and generated spool lines.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

from beacon.pipeline.claudelogs import claude_line
from beacon.pipeline.decode import MAX_ITEMS, any_value, int_value
from beacon.pipeline.normalize import (
    CLAUDE_SCOPE_PREFIX,
    LineContext,
    NormalizeStats,
    _Source,
)

# int64: orjson reads integers up to 2**64 - 1 as ints and larger ones as floats, msgspec
# every one as an int; it bounds at int64, so the rest goes to the general path.
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class AnyValue(Struct, forbid_unknown_fields=True):
    """A scalar ``AnyValue``; arrays and key-value lists are left to the general path.

    Field names here and below are OTLP/JSON's own (camelCase), as in the spool."""

    stringValue: str | UnsetType = UNSET
    boolValue: bool | UnsetType = UNSET
    intValue: Int | str | UnsetType = UNSET
    doubleValue: Int | float | str | UnsetType = UNSET
    bytesValue: str | UnsetType = UNSET


_VALUE_FIELDS = AnyValue.__struct_fields__


class KeyValue(Struct, forbid_unknown_fields=True):
    key: str
    value: AnyValue


class LogRecord(Struct, forbid_unknown_fields=True):
    timeUnixNano: Int | str | UnsetType = UNSET
    observedTimeUnixNano: Int | str | UnsetType = UNSET
    severityNumber: Int | str | UnsetType = UNSET
    severityText: str | UnsetType = UNSET
    body: AnyValue | UnsetType = UNSET
    attributes: list[KeyValue] | UnsetType = UNSET
    droppedAttributesCount: Int | UnsetType = UNSET
    flags: Int | UnsetType = UNSET
    traceId: str | UnsetType = UNSET
    spanId: str | UnsetType = UNSET
    eventName: str | UnsetType = UNSET


class Scope(Struct, forbid_unknown_fields=True):
    name: str | UnsetType = UNSET
    version: str | UnsetType = UNSET


class ScopeLogs(Struct, forbid_unknown_fields=True):
    scope: Scope | UnsetType = UNSET
    logRecords: list[LogRecord] = []
    schemaUrl: str | UnsetType = UNSET


class Resource(Struct, forbid_unknown_fields=True):
    attributes: list[KeyValue] = []
    droppedAttributesCount: Int | UnsetType = UNSET


class ResourceLogs(Struct, forbid_unknown_fields=True):
    resource: Resource | UnsetType = UNSET
    scopeLogs: list[ScopeLogs] = []
    schemaUrl: str | UnsetType = UNSET


class LogsRequest(Struct, forbid_unknown_fields=True):
    resourceLogs: list[ResourceLogs]


_decode = msgspec.json.Decoder(LogsRequest).decode
_PREFIX = b'{"resourceLogs":'
_CLAUDE_SCOPE = b'"' + CLAUDE_SCOPE_PREFIX.encode()


def decode_claude_request(piece: bytes) -> LogsRequest | None:
    """The spool line as structs, or None: not a logs request that names Claude Code's
    scope, or anything the structs do not take."""
    if not piece.startswith(_PREFIX) or _CLAUDE_SCOPE not in piece:
        return None
    try:
        return _decode(piece)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _value(value: AnyValue) -> Any:
    """``any_value`` of a value without ``stringValue``: booleans, ints and finite doubles
    answered here, in its order of precedence, the rest by ``any_value`` of the fields
    given."""
    if value.boolValue is not UNSET:
        return value.boolValue
    raw = value.intValue
    if raw is not UNSET:
        if type(raw) is str and len(raw) <= 18 and raw.isdigit():
            try:
                return int(raw)  # below 10**18: as_int's answer, without its checks
            except ValueError:  # a digit int() does not read (superscripts): as_int decides
                pass
        return int_value(raw)
    double = value.doubleValue
    if type(double) is float and double - double == 0.0:  # finite: as_float gives it back
        return double
    return any_value(
        {name: field for name in _VALUE_FIELDS if (field := getattr(value, name)) is not UNSET}
    )


def _resource_attributes(items: list[KeyValue]) -> dict[str, Any] | None:
    """``decode.attributes`` of the items (later duplicates win); None past ``MAX_ITEMS``,
    where the general path would cut the list."""
    if len(items) > MAX_ITEMS:
        return None
    return {
        item.key: text if (text := item.value.stringValue) is not UNSET else _value(item.value)
        for item in items
    }


def _attributes(items: list[KeyValue]) -> dict[str, Any] | None:
    """``claudelogs._attributes`` of the same items: None for keys given twice too."""
    result = _resource_attributes(items)
    return result if result is not None and len(result) == len(items) else None


def claude_request_lines(
    request: LogsRequest, ctx: LineContext, stats: NormalizeStats
) -> list[dict[str, Any]] | None:
    """Every record's line, as ``normalize`` would give them; None (and nothing counted)
    when any record is not one the Claude fast path maps."""
    lines: list[dict[str, Any]] = []
    for resource_logs in request.resourceLogs:
        resource = resource_logs.resource
        resource_attrs = _resource_attributes(resource.attributes) if resource is not UNSET else {}
        if resource_attrs is None:
            return None
        for scope_logs in resource_logs.scopeLogs:
            scope = scope_logs.scope
            name = version = None
            if scope is not UNSET:
                name = scope.name if scope.name is not UNSET else None
                version = scope.version if scope.version is not UNSET else None
            source = _Source("logs", resource_attrs, name or "", version or None)
            if source.harness != "claude_code":
                return None
            for record in scope_logs.logRecords:
                items = record.attributes
                attrs = _attributes(items) if items is not UNSET else None
                if attrs is None:
                    return None
                body = record.body
                line = claude_line(
                    ctx,
                    source,
                    attrs,
                    body.stringValue if body is not UNSET else None,
                    record.timeUnixNano if record.timeUnixNano is not UNSET else None,
                    record.observedTimeUnixNano
                    if record.observedTimeUnixNano is not UNSET
                    else None,
                    record.traceId if record.traceId is not UNSET else None,
                    record.spanId if record.spanId is not UNSET else None,
                )
                if line is None:
                    return None
                lines.append(line)
    stats.count(stats.requests, "logs")
    records = stats.records
    records["logs"] = records.get("logs", 0) + len(lines)
    return lines
