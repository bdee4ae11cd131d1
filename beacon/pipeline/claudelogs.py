"""A fast path of ``normalize`` for Claude Code's log events (pure).

Claude Code's log events are the bulk of a big spool. ``claude_log_line`` maps
one such record to the line ``normalize._log_line`` would build, with the
general path's checks done once up front instead of along the way: the
record's attributes are well-formed ``KeyValue`` objects, ``event.name`` names
the event, nothing is withheld from it. Any record it is not sure of (other
event names, odd shapes, withheld attributes, anything that raises) gets
``None``, and the general path maps it as before. The output is the general
path's, key order included (tests/pipeline/test_claudelogs.py compares both
over the golden fixtures and generated records); ``BEACON_FAST_PATHS=0`` turns
it off with the other fast paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beacon.pipeline import actions
from beacon.pipeline.decode import (
    MAX_ITEMS,
    any_value,
    as_float,
    as_int,
    rfc3339,
    unix_nanos,
)
from beacon.pipeline.normalize import (
    CLAUDE_EVENT_PREFIX,
    LineContext,
    _Source,
    base_line,
    put_session,
    trace_fields,
)

# The events mapped here: what Claude Code sends over and over in a session. Their
# fields never share a top-level key with ``base_line`` or the session/message part,
# so they are added as they are (the general path merges them key by key).
EVENTS = frozenset(
    {"user_prompt", "tool_decision", "api_request", "assistant_response", "tool_result"}
)
_LINE_KEYS = frozenset(
    {
        "timestamp",
        "vendor",
        "product",
        "schema_version",
        "origin",
        "event",
        "severity",
        "endpoint",
        "harness",
        "run",
        "repository",
        "branch",
        "message",
        "session",
        "content",
        "field_truncated",
        "raw",
        "beacon",
    }
)
_STR = frozenset({str})
_QUALIFIED = {name: CLAUDE_EVENT_PREFIX + name for name in EVENTS}


def _attributes(items: Any) -> dict[str, Any] | None:
    """``decode.attributes`` of a list of well-formed ``KeyValue`` objects with distinct
    string keys, else None. One comprehension (a loop with ``isinstance`` checks per
    attribute was the largest cost of a Claude record): in orjson's output only a dict
    can be indexed by a string and only a dict has ``get``, so anything else raises."""
    if type(items) is not list or len(items) > MAX_ITEMS:
        return None
    try:
        result = {
            item["key"]: text
            if type(text := item["value"].get("stringValue")) is str
            else any_value(item["value"], 0)
            for item in items
        }
    except (KeyError, TypeError, AttributeError):
        return None
    if len(result) != len(items) or not set(map(type, result)) <= _STR:
        return None  # a key given twice (the general path keeps the last) or not a string
    return result


def _api_request(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``actions.claude_event("api_request", attrs)``'s fields, built in place rather than
    by ten ``put`` calls and a merge (same keys, same order, absent values left out):
    the heaviest of the common events."""
    fields: dict[str, Any] = {}
    gen_ai: dict[str, Any] = {}
    model = actions.as_text(attrs.get("model"))
    if model:
        fields["model"] = model
        gen_ai["request"] = {"model": model}
    fields["gen_ai"] = gen_ai
    gen_ai["provider"] = {"name": "anthropic"}
    response: dict[str, Any] = {}
    request_id = actions.as_text(attrs.get("request_id"))
    if request_id:
        response["id"] = request_id
    ttft = as_float(attrs.get("ttft_ms"))
    if ttft is not None:
        response["time_to_first_chunk"] = ttft / 1000.0
    if response:
        gen_ai["response"] = response
    usage: dict[str, Any] = {}
    for name, into in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens")):
        count = as_int(attrs.get(name))
        if count is not None:
            usage[into] = count
    cache_read = as_int(attrs.get("cache_read_tokens"))
    if cache_read is not None:
        usage["cache_read"] = {"input_tokens": cache_read}
    cache_creation = actions.cache_creation_tokens(attrs)
    if cache_creation is not None:
        usage["cache_creation"] = {"input_tokens": cache_creation}
    cost = as_float(attrs.get("cost_usd"))
    if cost is not None:
        usage["cost_usd"] = cost
    if usage:
        gen_ai["usage"] = usage
    return fields


def _timestamp(ctx: LineContext, time_nanos: Any, observed_nanos: Any) -> str:
    if (
        type(time_nanos) is str
        and len(time_nanos) == 19
        and time_nanos.isascii()
        and time_nanos.isdigit()
        and time_nanos[0] != "0"
    ):
        # The spool's form (19 ASCII digits, 2001-2286): ``unix_nanos``' answer in one step.
        return rfc3339(int(time_nanos))
    nanos = unix_nanos(time_nanos)
    if nanos is None:
        nanos = unix_nanos(observed_nanos)
    return rfc3339(ctx.now_nanos if nanos is None else nanos)


def claude_log_line(
    ctx: LineContext, source: _Source, record: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The runtime line of a Claude Code log record, or None: the general path decides."""
    attrs = _attributes(record.get("attributes"))
    if attrs is None:
        return None
    body = record.get("body")
    return claude_line(
        ctx,
        source,
        attrs,
        body.get("stringValue") if type(body) is dict else None,
        record.get("timeUnixNano"),
        record.get("observedTimeUnixNano"),
        record.get("traceId"),
        record.get("spanId"),
    )


def claude_line(
    ctx: LineContext,
    source: _Source,
    attrs: dict[str, Any],
    body_text: Any,
    time_nanos: Any,
    observed_nanos: Any,
    trace_id: Any,
    span_id: Any,
) -> dict[str, Any] | None:
    """The line of a record read into its parts (``claude_log_line``; ``claudespool`` reads
    them from typed structs instead), or None: the general path decides."""
    if ctx.withheld and not ctx.withheld.isdisjoint(attrs):
        return None
    name = attrs.get("event.name")
    if type(name) is not str or name not in EVENTS:
        return None
    if name == "api_request":
        action, fields = "session.activity", _api_request(attrs)
    else:
        action, fields = actions.claude_event(name, attrs)
    if not _LINE_KEYS.isdisjoint(fields):
        return None
    qualified = _QUALIFIED[name]
    message = body_text if isinstance(body_text, str) else qualified
    line = base_line(
        ctx,
        _timestamp(ctx, time_nanos, observed_nanos),
        action,
        ("claude_code", source.harness_version),
    )
    if message:
        line["message"] = message
    put_session(line, ctx, attrs)
    if "repository" not in line and (
        "vcs.repository.name" in attrs
        or "vcs.repository.url.full" in attrs
        or "vcs.owner.name" in attrs
    ):
        repository = actions.repository_from_vcs(attrs)
        if repository:
            line["repository"] = repository
    line.update(fields)
    line.update(trace_fields(trace_id, span_id))
    line["content"] = {"redacted": False, "truncated": False}
    line["field_truncated"] = False
    line["raw"] = attrs
    source_info: dict[str, Any] = {
        "signal": source.signal,
        "scope": source.scope,
        "event_name": qualified,
    }
    sequence = as_int(attrs.get("event.sequence"))
    if sequence is not None:
        source_info["sequence"] = sequence
    line["beacon"] = {
        "session_id": ctx.session_id,
        "source": source_info,
        "truncated_fields": [],
        "redactions": {},
    }
    return line
