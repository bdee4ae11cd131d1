"""runtime.jsonl lines -> small facts (pure): requests, tool uses, prompts, metric points.

One pass over the lines of one beacon run. Each fact remembers its harness and
Claude session so the figures can be computed per harness and per session. The
same thing reported twice is merged here, once:

* a tool use arrives as a ``tool_result`` event (logs) and a ``claude_code.tool``
  span (traces) sharing ``gen_ai.tool.call.id``: one :class:`ToolUse`;
* an API request's usage is only on its ``api_request`` line (spans and metric
  points never carry ``gen_ai.usage``), de-duplicated by response id in case an
  export was delivered twice;
* a model call's timing comes from its ``llm_request`` span when there is one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from beacon.report.models import normalize_model

TOOL_ACTIONS = frozenset(
    {
        "command.executed",
        "file.modified",
        "file.read",
        "mcp.tool_invoked",
        "tool.invoked",
        "tool.failed",
    }
)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_creation")
METRIC_TOKEN_TYPES = {
    "input": "input",
    "output": "output",
    "cacheRead": "cache_read",
    "cache_read": "cache_read",
    "cacheCreation": "cache_creation",
    "cache_creation": "cache_creation",
}
COST_METRIC = "claude_code.cost.usage"
TOKEN_METRIC = "claude_code.token.usage"  # noqa: S105 - a metric name
LINES_METRIC = "claude_code.lines_of_code.count"
RETRIES_EXHAUSTED = "claude_code.api_retries_exhausted"
LLM_SPAN = "claude_code.llm_request"


@cache
def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def get(line: Mapping[str, Any], dotted: str) -> Any:
    """A nested field by its dotted name, or None. Lines are plain dicts (from JSON)."""
    node: Any = line
    for part in _parts(dotted):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def epoch_ms(timestamp: Any) -> float | None:
    """``2026-11-29T00:41:52.560Z`` -> milliseconds since the epoch (None if unreadable)."""
    if not isinstance(timestamp, str):
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000.0
    except (ValueError, OverflowError, OSError):
        return None


@dataclass
class Origin:
    harness: str
    session: str | None


@dataclass
class Request:
    origin: Origin
    model: str
    raw_model: str
    tokens: dict[str, int]
    cost_usd: float | None
    at_ms: float | None
    duration_ms: int | None


@dataclass
class ApiError:
    origin: Origin
    kind: str  # the source event name
    error_type: str | None
    status_code: str | None
    at_ms: float | None


@dataclass
class ToolUse:
    origin: Origin
    name: str
    action: str
    failed: bool
    duration_ms: int | None = None
    command: str | None = None
    path: str | None = None
    operation: str | None = None
    start_ms: float | None = None
    signals: set[str] = field(default_factory=set)

    def absorb(self, other: ToolUse) -> None:
        """Merge the same call seen on another signal: the event's fields win."""
        self.failed = self.failed or other.failed
        if other.name.startswith("mcp__") and not self.name.startswith("mcp__"):
            self.name = other.name
        if self.duration_ms is None:
            self.duration_ms = other.duration_ms
        self.command = self.command or other.command
        self.path = self.path or other.path
        self.operation = self.operation or other.operation
        if "traces" in other.signals and other.start_ms is not None:
            self.start_ms = other.start_ms  # a span's timestamp is its real start
        elif self.start_ms is None:
            self.start_ms = other.start_ms
        if self.action == "tool.failed" and other.action != "tool.failed":
            self.action = other.action
        self.signals |= other.signals


@dataclass
class Prompt:
    origin: Origin
    text: str | None
    at_ms: float | None


@dataclass
class Approval:
    origin: Origin
    allowed: bool
    tool: str | None


@dataclass
class MetricPoint:
    origin: Origin
    name: str
    model: str | None
    kind: str | None  # token type / lines type
    value: float
    cumulative: bool
    series: tuple[Any, ...]
    at_ms: float | None


@dataclass
class ModelCall:
    """A model call for the timeline (from the span, else the request event)."""

    origin: Origin
    model: str
    start_ms: float
    duration_ms: float
    failed: bool = False


@dataclass
class RunFacts:
    """Everything the report needs from one beacon run's lines."""

    session_id: str | None = None
    lines: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    errors: list[ApiError] = field(default_factory=list)
    retries: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    tools: dict[Any, ToolUse] = field(default_factory=dict)
    prompts: list[Prompt] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)
    model_calls: dict[Any, ModelCall] = field(default_factory=dict)
    redactions: list[tuple[Origin, dict[str, int]]] = field(default_factory=list)
    harness_versions: dict[str, set[str]] = field(default_factory=dict)
    first_ms: float | None = None
    last_ms: float | None = None
    collector_started_ms: float | None = None
    collector_stopped_ms: float | None = None
    child_exit_code: int | None = None
    child_duration_ms: int | None = None
    child_command: str | None = None
    summary: dict[str, Any] | None = None
    _request_ids: set[tuple[str | None, str]] = field(default_factory=set)
    _anonymous: int = 0
    _origins: dict[tuple[str, str | None], Origin] = field(default_factory=dict)

    def origin(self, harness: str, session: str | None) -> Origin:
        """One shared :class:`Origin` per (harness, session)."""
        key = (harness, session)
        found = self._origins.get(key)
        if found is None:
            found = self._origins[key] = Origin(harness, session)
        return found

    def unique_key(self) -> int:
        self._anonymous += 1
        return self._anonymous


def collect(lines: Iterable[Mapping[str, Any]], session_id: str | None = None) -> RunFacts:
    """The facts of run ``session_id`` (None: the most recent run, i.e. the last line's)."""
    facts = RunFacts(session_id=session_id)
    for line in lines:
        run = get(line, "beacon.session_id")
        if not isinstance(run, str):
            continue
        if session_id is None and run != facts.session_id:
            # A log may hold several runs: the most recent is the last line's.
            facts = RunFacts(session_id=run)
        elif session_id is not None and run != session_id:
            continue
        add_line(facts, line)
    return facts


_EMPTY: dict[str, Any] = {}


def _obj(node: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = node.get(key)
    return value if isinstance(value, dict) else _EMPTY


def add_line(facts: RunFacts, line: Mapping[str, Any]) -> None:
    # Direct dict access: this runs once per line of logs of a million lines.
    facts.lines += 1
    action = _obj(line, "event").get("action")
    action = action if isinstance(action, str) else "unknown"
    facts.actions[action] = facts.actions.get(action, 0) + 1
    harness_obj = _obj(line, "harness")
    harness = _str(harness_obj.get("name")) or "unknown"
    version = _str(harness_obj.get("version"))
    if version:
        facts.harness_versions.setdefault(harness, set()).add(version)
    origin = facts.origin(harness, _str(_obj(line, "session").get("id")))
    at_ms = epoch_ms(line.get("timestamp"))
    if at_ms is not None and action != "session.summary":
        facts.first_ms = at_ms if facts.first_ms is None else min(facts.first_ms, at_ms)
        facts.last_ms = at_ms if facts.last_ms is None else max(facts.last_ms, at_ms)
    beacon = _obj(line, "beacon")
    redactions = beacon.get("redactions")
    if isinstance(redactions, dict) and redactions:
        counts = {str(k): v for k, v in redactions.items() if isinstance(v, int)}
        facts.redactions.append((origin, counts))
    source_obj = _obj(beacon, "source")
    source = _str(source_obj.get("event_name")) or _str(line.get("message")) or ""
    signal = _str(source_obj.get("signal")) or "logs"
    if isinstance(_obj(line, "gen_ai").get("usage"), dict):
        _add_request(facts, line, origin, at_ms)
    elif action in TOOL_ACTIONS:
        _add_tool(facts, line, origin, action, signal, at_ms)
    elif action == "metric.observed":
        _add_metric(facts, line, origin, at_ms)
    elif action == "prompt.submitted":
        facts.prompts.append(Prompt(origin, _str(get(line, "prompt.text")), at_ms))
    elif action in ("approval.allowed", "approval.denied"):
        facts.approvals.append(
            Approval(origin, action == "approval.allowed", _str(get(line, "tool.name")))
        )
    elif action == "session.error":
        _add_error(facts, line, origin, source, at_ms)
    elif action == "session.summary":
        summary = beacon.get("summary")
        facts.summary = dict(summary) if isinstance(summary, dict) else None
    elif harness == "beacon":
        _add_lifecycle(facts, line, source, at_ms)
    if source == LLM_SPAN:
        _add_model_span(facts, line, origin, at_ms)


def _add_request(
    facts: RunFacts, line: Mapping[str, Any], origin: Origin, at_ms: float | None
) -> None:
    response_id = _str(get(line, "gen_ai.response.id"))
    if response_id is not None:
        key = (origin.session, response_id)
        if key in facts._request_ids:
            return
        facts._request_ids.add(key)
    usage = get(line, "gen_ai.usage")
    tokens = {
        "input": _int(get(usage, "input_tokens")) or 0,
        "output": _int(get(usage, "output_tokens")) or 0,
        "cache_read": _int(get(usage, "cache_read.input_tokens")) or 0,
        "cache_creation": _int(get(usage, "cache_creation.input_tokens")) or 0,
    }
    raw_model = _str(line.get("model")) or _str(get(line, "gen_ai.request.model")) or ""
    duration = _int(get(line, "raw.duration_ms"))
    facts.requests.append(
        Request(
            origin=origin,
            model=normalize_model(raw_model),
            raw_model=raw_model or "unknown",
            tokens=tokens,
            cost_usd=_number(get(usage, "cost_usd")),
            at_ms=at_ms,
            duration_ms=duration,
        )
    )
    _count_retries(facts, line, origin, "logs")
    if at_ms is not None:
        call = ("call", origin.session, response_id or facts.unique_key())
        if call not in facts.model_calls:
            span = float(duration or 0)
            facts.model_calls[call] = ModelCall(
                origin, normalize_model(raw_model), at_ms - span, span
            )


def _add_model_span(
    facts: RunFacts, line: Mapping[str, Any], origin: Origin, at_ms: float | None
) -> None:
    _count_retries(facts, line, origin, "traces")
    if at_ms is None:
        return
    response_id = _str(get(line, "gen_ai.response.id"))
    key = ("call", origin.session, response_id or facts.unique_key())
    duration = float(_int(get(line, "beacon.duration_ms")) or 0)
    failed = get(line, "raw.success") is False or get(line, "error.type") is not None
    model = normalize_model(line.get("model"))
    facts.model_calls[key] = ModelCall(origin, model, at_ms, duration, failed)


def _count_retries(facts: RunFacts, line: Mapping[str, Any], origin: Origin, signal: str) -> None:
    attempt = _int(get(line, "raw.attempt"))
    if attempt is not None and attempt > 1:
        key = (origin.harness, origin.session, signal)
        facts.retries[key] = facts.retries.get(key, 0) + attempt - 1


def _add_error(
    facts: RunFacts, line: Mapping[str, Any], origin: Origin, source: str, at_ms: float | None
) -> None:
    facts.errors.append(
        ApiError(
            origin=origin,
            kind=source,
            error_type=_str(get(line, "error.type")),
            status_code=_str(get(line, "rpc.response.status_code")),
            at_ms=at_ms,
        )
    )
    if source != RETRIES_EXHAUSTED:
        _count_retries(facts, line, origin, "logs")


def _add_tool(
    facts: RunFacts,
    line: Mapping[str, Any],
    origin: Origin,
    action: str,
    signal: str,
    at_ms: float | None,
) -> None:
    name = _str(get(line, "tool.name")) or _str(get(line, "gen_ai.tool.name")) or "unknown"
    server, tool = _str(get(line, "mcp.server")), _str(get(line, "mcp.tool"))
    if server and tool and not name.startswith("mcp__"):
        name = f"mcp__{server}__{tool}"
    duration = _int(get(line, "command.duration_ms"))
    if duration is None:
        duration = _int(get(line, "raw.duration_ms"))
    if duration is None:
        duration = _int(get(line, "beacon.duration_ms"))
    start = at_ms
    if signal != "traces" and at_ms is not None and duration is not None:
        start = at_ms - duration  # an event is logged when the tool has finished
    use = ToolUse(
        origin=origin,
        name=name,
        action=action,
        failed=action == "tool.failed",
        duration_ms=duration,
        command=_str(get(line, "command.command")),
        path=_str(get(line, "file.path")),
        operation=_str(get(line, "file.operation")),
        start_ms=start,
        signals={signal},
    )
    call_id = _str(get(line, "gen_ai.tool.call.id"))
    key: Any = (origin.session, call_id) if call_id else facts.unique_key()
    known = facts.tools.get(key)
    if known is None:
        facts.tools[key] = use
    elif signal == "logs" and "logs" not in known.signals:
        use.absorb(known)
        facts.tools[key] = use
    else:
        known.absorb(use)


def _add_metric(
    facts: RunFacts, line: Mapping[str, Any], origin: Origin, at_ms: float | None
) -> None:
    name = _str(get(line, "metric.name"))
    value = _number(get(line, "metric.value"))
    if name not in (COST_METRIC, TOKEN_METRIC, LINES_METRIC) or value is None:
        return
    if name == TOKEN_METRIC:
        token_type = _str(get(line, "gen_ai.token.type")) or _str(get(line, "raw.type")) or ""
        kind: str | None = METRIC_TOKEN_TYPES.get(token_type)
        if kind is None:
            return
    elif name == LINES_METRIC:
        kind = _str(get(line, "raw.type"))
    else:
        kind = None
    cumulative = get(line, "metric.temporality") == "cumulative"
    series: tuple[Any, ...] = ()
    raw = line.get("raw")
    if cumulative and isinstance(raw, dict):
        # Only a cumulative point needs its series (its latest point is its total).
        series = (name, tuple(sorted((str(k), str(v)) for k, v in raw.items())))
    model = _str(line.get("model"))
    facts.metrics.append(
        MetricPoint(
            origin=origin,
            name=name,
            model=normalize_model(model) if model else None,
            kind=kind,
            value=value,
            cumulative=cumulative,
            series=series,
            at_ms=at_ms,
        )
    )


def _add_lifecycle(
    facts: RunFacts, line: Mapping[str, Any], source: str, at_ms: float | None
) -> None:
    if source == "beacon.collector.started" and facts.collector_started_ms is None:
        facts.collector_started_ms = at_ms
    elif source == "beacon.collector.stopped":
        facts.collector_stopped_ms = at_ms
    elif source == "beacon.child.started":
        facts.child_command = _str(get(line, "command.command"))
    elif source == "beacon.child.exited":
        facts.child_exit_code = _int(get(line, "command.exit_code"))
        facts.child_duration_ms = _int(get(line, "command.duration_ms"))


def split(facts: RunFacts, key: Callable[[Origin], str | None]) -> dict[str, RunFacts]:
    """The facts of each group (``key`` of a fact's origin; None: in no group), one pass."""
    groups: dict[str, RunFacts] = {}

    def group(origin: Origin) -> RunFacts | None:
        name = key(origin)
        if name is None:
            return None
        found = groups.get(name)
        if found is None:
            found = groups[name] = RunFacts(session_id=facts.session_id)
        return found

    for request in facts.requests:
        if (target := group(request.origin)) is not None:
            target.requests.append(request)
    for error in facts.errors:
        if (target := group(error.origin)) is not None:
            target.errors.append(error)
    for (harness, session, signal), count in facts.retries.items():
        if (target := group(Origin(harness, session))) is not None:
            target.retries[(harness, session, signal)] = count
    for call_key, use in facts.tools.items():
        if (target := group(use.origin)) is not None:
            target.tools[call_key] = use
    for prompt in facts.prompts:
        if (target := group(prompt.origin)) is not None:
            target.prompts.append(prompt)
    for approval in facts.approvals:
        if (target := group(approval.origin)) is not None:
            target.approvals.append(approval)
    for point in facts.metrics:
        if (target := group(point.origin)) is not None:
            target.metrics.append(point)
    for origin, counts in facts.redactions:
        if (target := group(origin)) is not None:
            target.redactions.append((origin, counts))
    return groups
