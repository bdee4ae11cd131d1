"""OTLP export requests -> runtime lines (pure, streaming).

Input: an iterable of ``(signal, payload)`` where ``payload`` is one spool
line (an OTLP/JSON export request). Output: one runtime line (a nested dict,
not yet redacted) per log record, span and metric data point, in spool order
and, within a request, in the order of the request. Nothing is buffered
beyond the current request, so memory is bounded by the largest request.

A record that cannot be read is never fatal: decoding is total, and a record
whose mapping fails anyway becomes a ``session.activity`` line with
``message`` "unreadable record" (counted in ``NormalizeStats.malformed``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from beacon.pipeline import actions, codex, gemini
from beacon.pipeline.content import without
from beacon.pipeline.decode import (
    as_float,
    as_int,
    attributes,
    enum_value,
    hex_id,
    rfc3339,
    unix_nanos,
)

SCHEMA_VERSION = "1.0"
CLAUDE_SCOPE_PREFIX = "com.anthropic.claude_code"
CLAUDE_EVENT_PREFIX = "claude_code."
BEACON_SCOPE = "beacon"
BEACON_EVENT_PREFIX = "beacon."
SUMMARY_ACTION = "session.summary"

_TEMPORALITY = {
    "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0,
    "AGGREGATION_TEMPORALITY_DELTA": 1,
    "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
}
_TEMPORALITY_NAMES = {0: "unspecified", 1: "delta", 2: "cumulative"}
_METRIC_KINDS = {
    "sum": "sum",
    "gauge": "gauge",
    "histogram": "histogram",
    "exponentialHistogram": "exponential_histogram",
    "summary": "summary",
}
_SIGNAL_KEYS = {"resourceLogs": "logs", "resourceSpans": "traces", "resourceMetrics": "metrics"}
# Metrics whose points carry the token type in their `type` attribute.
_TOKEN_METRICS = frozenset({"claude_code.token.usage", "gemini_cli.token.usage"})
# Harnesses whose `service.version` is not the client's version (Gemini CLI sends the Node
# version there, and its own version nowhere): their harness.version is "unknown".
_RUNTIME_VERSION_HARNESSES = frozenset({gemini.HARNESS})


@dataclass(frozen=True)
class LineContext:
    """What every line of one pipeline run carries besides the record itself."""

    session_id: str
    hostname: str
    os: str
    agent_version: str
    now_nanos: int
    working_directory: str | None = None
    run: Mapping[str, str | bool] = field(default_factory=dict)
    withheld: frozenset[str] = frozenset()
    """Attribute names dropped from every client record (``--no-prompts``…)."""


@dataclass
class NormalizeStats:
    requests: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    malformed: int = 0

    def count(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1


@dataclass
class _Source:
    """Where a record came from: resource and scope, decoded once per scope."""

    signal: str
    resource: Mapping[str, Any]
    scope: str
    scope_version: str | None

    @cached_property
    def harness(self) -> str:
        if self.scope == BEACON_SCOPE:
            return "beacon"
        if self.scope.startswith(CLAUDE_SCOPE_PREFIX):
            return "claude_code"
        if self.scope == gemini.SCOPE:
            return gemini.HARNESS
        if self.scope.startswith(codex.SCOPE_PREFIX) or _text(
            self.resource.get("service.name")
        ).startswith(codex.SERVICE_PREFIX):
            return codex.HARNESS
        return "otel"

    @cached_property
    def harness_version(self) -> str:
        if self.harness in _RUNTIME_VERSION_HARNESSES:
            return "unknown"
        version = self.resource.get("service.version")
        if isinstance(version, str) and version:
            return version
        return self.scope_version or "unknown"


# An action's category and severity, worked out once per action (a few dozen names).
_ACTIONS: dict[str, tuple[str, str]] = {}


def _action_facts(action: str) -> tuple[str, str]:
    facts = (action.split(".", 1)[0], actions.severity_for(action))
    if len(_ACTIONS) < 1024:
        _ACTIONS[action] = facts
    return facts


def base_line(
    ctx: LineContext, timestamp: str, action: str, harness: tuple[str, str]
) -> dict[str, Any]:
    """The fields every runtime line has, in the documented key order."""
    known = _ACTIONS.get(action)
    category, severity = known if known is not None else _action_facts(action)
    line: dict[str, Any] = {
        "timestamp": timestamp,
        "vendor": "beacon",
        "product": "endpoint-agent",
        "schema_version": SCHEMA_VERSION,
        "origin": "ci",
        "event": {"kind": "agent_runtime", "action": action, "category": category},
        "severity": severity,
        "endpoint": {"hostname": ctx.hostname, "os": ctx.os, "agent_version": ctx.agent_version},
        "harness": {"name": harness[0], "version": harness[1]},
    }
    if ctx.run:
        line["run"] = dict(ctx.run)
        repository = ctx.run.get("repository")
        if isinstance(repository, str):
            line["repository"] = repository
        branch = ctx.run.get("branch")
        if isinstance(branch, str):
            line["branch"] = branch
    return line


def put_session(line: dict[str, Any], ctx: LineContext, attrs: Mapping[str, Any]) -> None:
    """``session``: the client's own session id (its attributes) and the job's directory."""
    session: dict[str, str] = {}
    claude_session = attrs.get("session.id") or attrs.get("conversation.id")
    if isinstance(claude_session, str) and claude_session:
        session["id"] = claude_session
    if ctx.working_directory:
        session["working_directory"] = ctx.working_directory
    if session:
        line["session"] = session


def _finish(
    line: dict[str, Any],
    ctx: LineContext,
    *,
    source: _Source,
    event_name: str | None,
    fields: Mapping[str, Any],
    raw: dict[str, Any],
    message: str | None = None,
    sequence: int | None = None,
) -> dict[str, Any]:
    """Complete ``line``: ``message`` is the event name unless given; the Claude session
    id is the record's own (``raw``)."""
    if message is None:
        message = event_name
    if message:
        line["message"] = message
    put_session(line, ctx, raw)
    if "repository" not in line and source.harness != BEACON_SCOPE:
        # The CI gives none: the client's own vcs attributes (Claude Code 2.1.332 with
        # OTEL_METRICS_INCLUDE_REPOSITORY) say which repository it worked in.
        repository = actions.repository_from_vcs(raw)
        if repository:
            line["repository"] = repository
    actions._merge(line, dict(fields))
    line["content"] = {"redacted": False, "truncated": False}
    line["field_truncated"] = False
    line["raw"] = raw
    source_info: dict[str, Any] = {"signal": source.signal, "scope": source.scope}
    if event_name:
        source_info["event_name"] = event_name
    if sequence is not None:
        source_info["sequence"] = sequence
    beacon = line.setdefault("beacon", {})
    beacon.update(
        {
            "session_id": ctx.session_id,
            "source": source_info,
            "truncated_fields": [],
            "redactions": {},
        }
    )
    return line


def _timestamp(ctx: LineContext, *candidates: Any) -> str:
    for candidate in candidates:
        nanos = unix_nanos(candidate)
        if nanos is not None:
            return rfc3339(nanos)
    return rfc3339(ctx.now_nanos)


def _trace_fields(record: Mapping[str, Any], *, with_parent: bool) -> dict[str, Any]:
    return trace_fields(
        record.get("traceId"),
        record.get("spanId"),
        record.get("parentSpanId") if with_parent else None,
    )


def trace_fields(trace_id: Any, span_id: Any, parent_span_id: Any = None) -> dict[str, Any]:
    """``trace`` of a record or span from its raw ids (absent or unreadable ones left out)."""
    trace: dict[str, Any] = {}
    trace_hex = hex_id(trace_id, 16)
    if trace_hex:
        trace["id"] = trace_hex
    span_hex = hex_id(span_id, 8)
    if span_hex:
        trace["span_id"] = span_hex
    if parent_span_id is not None:
        parent_hex = hex_id(parent_span_id, 8)
        if parent_hex:
            trace["parent_span_id"] = parent_hex
    return {"trace": trace} if trace else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _body_text(record: Mapping[str, Any]) -> str | None:
    body = record.get("body")
    if isinstance(body, dict):
        text = body.get("stringValue")
        if isinstance(text, str):
            return text
    return None


# -- logs ----------------------------------------------------------------------------------


def _log_line(ctx: LineContext, source: _Source, record: Mapping[str, Any]) -> dict[str, Any]:
    attrs = attributes(record.get("attributes"))
    if source.harness != "beacon":
        attrs = without(attrs, ctx.withheld)
    body = _body_text(record)
    name_attr = attrs.get("event.name")
    event_name = name_attr if isinstance(name_attr, str) and name_attr else None
    if event_name is None and isinstance(record.get("eventName"), str):
        event_name = record["eventName"] or None
    harness = source.harness
    if harness == "otel" and body is not None and body.startswith(CLAUDE_EVENT_PREFIX):
        harness = "claude_code"
    elif harness == "otel" and event_name and event_name.startswith(gemini.EVENT_PREFIX):
        harness = gemini.HARNESS
    if event_name is None and body is not None:
        for prefix in (CLAUDE_EVENT_PREFIX, BEACON_EVENT_PREFIX):
            if body.startswith(prefix):
                event_name = body[len(prefix) :]
    if harness == "claude_code":
        action, fields = actions.claude_event(event_name or "", attrs)
    elif harness == "beacon":
        action, fields = actions.lifecycle_event(event_name or "", attrs)
    elif harness == gemini.HARNESS:
        action, fields = gemini.gemini_event(event_name or "", attrs)
    elif harness == codex.HARNESS:
        action, fields = codex.codex_event(event_name or "", attrs)
    else:
        action, fields = "session.activity", {}
    qualified: str | None
    if harness == "claude_code" and event_name:
        qualified = f"{CLAUDE_EVENT_PREFIX}{event_name}"
    elif harness == "beacon" and event_name:
        qualified = f"{BEACON_EVENT_PREFIX}{event_name}"
    else:
        qualified = event_name
    version = source.harness_version
    line = base_line(
        ctx,
        _timestamp(ctx, record.get("timeUnixNano"), record.get("observedTimeUnixNano")),
        action,
        (harness, version),
    )
    if action == "session.activity" and harness == "beacon" and event_name == "child.exited":
        exit_code = as_int(attrs.get("exit_code"))
        if exit_code:
            line["severity"] = "medium"
    fields = {**fields, **_trace_fields(record, with_parent=False)}
    raw = dict(attrs)
    if body is not None and harness == "otel":
        raw.setdefault("body", body)
    sequence = as_int(attrs.get("event.sequence")) if harness == "claude_code" else None
    return _finish(
        line,
        ctx,
        source=source,
        event_name=qualified,
        fields=fields,
        raw=raw,
        message=body if body is not None else qualified,
        sequence=sequence,
    )


# -- traces --------------------------------------------------------------------------------


def _span_line(ctx: LineContext, source: _Source, span: Mapping[str, Any]) -> dict[str, Any]:
    attrs = without(attributes(span.get("attributes")), ctx.withheld)
    name = _text(span.get("name"))
    harness = source.harness
    if harness == "otel" and name.startswith(CLAUDE_EVENT_PREFIX):
        harness = "claude_code"
    if harness == "claude_code":
        span_type = attrs.get("span.type")
        if not isinstance(span_type, str) or not span_type:
            span_type = name.removeprefix(CLAUDE_EVENT_PREFIX)
        action, fields = actions.claude_span(span_type, attrs)
    elif harness in (gemini.HARNESS, codex.HARNESS):
        # Commands and edits are counted from the tool events, once.
        action, fields = "session.activity", actions.gen_ai_span_fields(attrs)
    else:
        action, fields = "session.activity", {}
    start = unix_nanos(span.get("startTimeUnixNano"))
    end = unix_nanos(span.get("endTimeUnixNano"))
    line = base_line(ctx, _timestamp(ctx, start, end), action, (harness, source.harness_version))
    status = span.get("status")
    code = (
        enum_value(status.get("code"), {"STATUS_CODE_ERROR": 2})
        if isinstance(status, dict)
        else None
    )
    fields = {**fields, **_trace_fields(span, with_parent=True)}
    if code == 2:
        line["severity"] = actions.raise_severity(line["severity"], "medium")
        message = status.get("message") if isinstance(status, dict) else None
        actions.put(fields, "error.type", message if isinstance(message, str) else "error")
    finished = _finish(
        line,
        ctx,
        source=source,
        event_name=name or None,
        fields=fields,
        raw=attrs,
    )
    if start is not None and end is not None and end >= start:
        finished["beacon"]["duration_ms"] = (end - start) // 1_000_000
    return finished


# -- metrics -------------------------------------------------------------------------------


def _point_value(kind: str, point: Mapping[str, Any]) -> tuple[float | None, int | None]:
    if kind in ("sum", "gauge"):
        if "asDouble" in point:
            return as_float(point.get("asDouble")), None
        return as_float(point.get("asInt")), None
    return as_float(point.get("sum")), as_int(point.get("count"))


def _metric_lines(
    ctx: LineContext, source: _Source, metric: Mapping[str, Any], stats: NormalizeStats
) -> Iterator[dict[str, Any]]:
    name = _text(metric.get("name"))
    unit = _text(metric.get("unit"))
    harness = source.harness
    if harness == "otel" and name.startswith(CLAUDE_EVENT_PREFIX):
        harness = "claude_code"
    for key, kind in _METRIC_KINDS.items():
        data = metric.get(key)
        if not isinstance(data, dict):
            continue
        temporality = enum_value(data.get("aggregationTemporality"), _TEMPORALITY)
        points = data.get("dataPoints")
        if not isinstance(points, list):
            continue
        for point in points:
            if not isinstance(point, dict):
                continue
            stats.count(stats.records, "metrics")
            yield _guarded(
                ctx,
                source,
                _metric_point_line,
                ctx,
                source,
                harness,
                name,
                unit,
                kind,
                temporality,
                point,
            )


def _metric_point_line(
    ctx: LineContext,
    source: _Source,
    harness: str,
    name: str,
    unit: str,
    kind: str,
    temporality: int | None,
    point: Mapping[str, Any],
) -> dict[str, Any]:
    attrs = without(attributes(point.get("attributes")), ctx.withheld)
    value, count = _point_value(kind, point)
    metric: dict[str, Any] = {"name": name or "unknown", "kind": kind}
    if value is not None:
        metric["value"] = value
    if count is not None:
        metric["count"] = count
    if unit:
        metric["unit"] = unit
    if temporality is not None and kind in ("sum", "histogram", "exponential_histogram"):
        metric["temporality"] = _TEMPORALITY_NAMES.get(temporality, "unspecified")
    line = base_line(
        ctx,
        _timestamp(ctx, point.get("timeUnixNano"), point.get("startTimeUnixNano")),
        "metric.observed",
        (harness, source.harness_version),
    )
    fields: dict[str, Any] = {"metric": metric}
    model = attrs.get("model")
    if isinstance(model, str) and model:
        fields["model"] = model
    token_type = attrs.get("type")
    if name in _TOKEN_METRICS and isinstance(token_type, str) and token_type:
        actions.put(fields, "gen_ai.token.type", token_type)
    return _finish(
        line,
        ctx,
        source=source,
        event_name=name or None,
        fields=fields,
        raw=attrs,
    )


# -- requests ------------------------------------------------------------------------------


def _guarded(
    ctx: LineContext, source: _Source, build: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    try:
        line = build(*args)
        return line
    except Exception:  # decoding is total; this is the last line of defence
        line = base_line(
            ctx, rfc3339(ctx.now_nanos), "session.activity", (source.harness, "unknown")
        )
        line = _finish(
            line,
            ctx,
            source=source,
            event_name=None,
            fields={},
            raw={},
            message="unreadable record",
        )
        line["beacon"]["malformed"] = True
        return line


_LEVELS = {
    "logs": ("resourceLogs", "scopeLogs", "logRecords"),
    "traces": ("resourceSpans", "scopeSpans", "spans"),
    "metrics": ("resourceMetrics", "scopeMetrics", "metrics"),
}


# A fast path for Claude Code's log records (``claudelogs.claude_log_line``): a line, or
# None when the general path must map the record.
FastLogLine = Callable[[LineContext, _Source, Mapping[str, Any]], dict[str, Any] | None]


def _fast_or_general(
    ctx: LineContext, source: _Source, record: Mapping[str, Any], fast: FastLogLine
) -> dict[str, Any]:
    try:
        line = fast(ctx, source, record)
    except Exception:  # the general path decides what such a record becomes
        line = None
    return line if line is not None else _guarded(ctx, source, _log_line, ctx, source, record)


def _request_lines(
    ctx: LineContext,
    signal: str,
    payload: Mapping[str, Any],
    stats: NormalizeStats,
    fast_logs: FastLogLine | None = None,
) -> Iterator[dict[str, Any]]:
    resource_key, scope_key, items_key = _LEVELS[signal]
    resources = payload.get(resource_key)
    if not isinstance(resources, list):
        return
    for resource_level in resources:
        if not isinstance(resource_level, dict):
            continue
        resource = resource_level.get("resource")
        resource_attrs = (
            attributes(resource.get("attributes")) if isinstance(resource, dict) else {}
        )
        scopes = resource_level.get(scope_key)
        if not isinstance(scopes, list):
            continue
        for scope_level in scopes:
            if not isinstance(scope_level, dict):
                continue
            scope = scope_level.get("scope")
            scope = scope if isinstance(scope, dict) else {}
            source = _Source(
                signal,
                resource_attrs,
                _text(scope.get("name")),
                _text(scope.get("version")) or None,
            )
            items = scope_level.get(items_key)
            if not isinstance(items, list):
                continue
            fast = fast_logs if signal == "logs" and source.harness == "claude_code" else None
            for item in items:
                if not isinstance(item, dict):
                    continue
                if signal == "metrics":
                    yield from _metric_lines(ctx, source, item, stats)
                    continue
                stats.count(stats.records, signal)
                if signal == "traces" and _skipped_span(source, item):
                    stats.count(stats.records, "traces.skipped")
                    continue
                if fast is not None:
                    yield _fast_or_general(ctx, source, item, fast)
                elif signal == "logs":
                    yield _guarded(ctx, source, _log_line, ctx, source, item)
                else:
                    yield _guarded(ctx, source, _span_line, ctx, source, item)


def _skipped_span(source: _Source, span: Mapping[str, Any]) -> bool:
    """Codex CLI's internal spans (~550 per turn): only those carrying usage are kept."""
    return source.harness == codex.HARNESS and _text(span.get("name")) not in codex.KEPT_SPANS


def signal_of(signal: str, payload: Mapping[str, Any]) -> str | None:
    """The signal of a request: the given name if valid, else from its top-level key."""
    if signal in _LEVELS:
        return signal
    for key, name in _SIGNAL_KEYS.items():
        if key in payload:
            return name
    return None


def normalize(
    requests: Iterable[tuple[str, Mapping[str, Any]]],
    ctx: LineContext,
    stats: NormalizeStats | None = None,
    *,
    fast_logs: FastLogLine | None = None,
) -> Iterator[dict[str, Any]]:
    """Runtime lines (unredacted) for each record of each request, in order.

    ``fast_logs``: the fast path for Claude Code's log records (``claudelogs``), the
    same lines; None maps every record on the general path (fast paths off)."""
    stats = stats if stats is not None else NormalizeStats()
    for signal, payload in requests:
        if not isinstance(payload, Mapping):
            continue
        name = signal_of(signal, payload)
        if name is None:
            continue
        stats.count(stats.requests, name)
        for line in _request_lines(ctx, name, payload, stats, fast_logs):
            if line["beacon"].get("malformed"):
                stats.malformed += 1
            yield line
