"""Facts -> figures for one group of a run (the whole run, one harness, one session). Pure.

Cost is only ever a sum of what the harness reported: a group in which any request
came without a cost has cost ``None`` ("unknown"), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from beacon.report.facts import (
    COST_METRIC,
    LINES_METRIC,
    TOKEN_KINDS,
    TOKEN_METRIC,
    MetricPoint,
    Origin,
    RunFacts,
    ToolUse,
)

#: Longest list of commands, files or prompts kept in the figures (report.json).
MAX_ITEMS = 1000
MAX_PROMPT_CHARS = 2000
COST_TOLERANCE_USD = 1e-6

Selector = Callable[[Origin], bool]


def _cost(values: Iterable[float]) -> float:
    return round(math.fsum(values), 9)


@dataclass
class ModelFigures:
    model: str
    names: list[str]
    requests: int
    cost_usd: float | None
    tokens: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "names": self.names,
            "requests": self.requests,
            "cost_usd": self.cost_usd,
            "tokens": dict(self.tokens),
        }


@dataclass
class ToolFigures:
    name: str
    count: int = 0
    failures: int = 0
    duration_ms: int = 0
    max_duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "failures": self.failures,
            "duration_ms": self.duration_ms,
            "max_duration_ms": self.max_duration_ms,
        }


@dataclass
class Figures:
    requests: int = 0
    cost_usd: float | None = None
    requests_without_cost: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    models: list[ModelFigures] = field(default_factory=list)
    errors: int = 0
    retries: int = 0
    retries_exhausted: int = 0
    error_types: dict[str, int] = field(default_factory=dict)
    tools: list[ToolFigures] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    command_runs: int = 0
    files_read: list[dict[str, Any]] = field(default_factory=list)
    files_modified: list[dict[str, Any]] = field(default_factory=list)
    approvals_allowed: int = 0
    approvals_denied: int = 0
    denied_tools: dict[str, int] = field(default_factory=dict)
    lines_added: int | None = None
    lines_removed: int | None = None
    prompts: int = 0
    prompt_texts: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    metrics_cost_usd: float | None = None
    metrics_tokens: dict[str, int] | None = None

    @property
    def tool_uses(self) -> int:
        return sum(tool.count for tool in self.tools)

    @property
    def tool_failures(self) -> int:
        return sum(tool.failures for tool in self.tools)

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens.values())

    @property
    def metrics_agree(self) -> bool | None:
        """Do the metric totals equal the request totals? None without metrics."""
        if self.metrics_tokens is None and self.metrics_cost_usd is None:
            return None
        if self.metrics_tokens is not None and self.metrics_tokens != self.tokens:
            return False
        if self.metrics_cost_usd is not None and self.cost_usd is not None:
            return abs(self.metrics_cost_usd - self.cost_usd) <= COST_TOLERANCE_USD
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_usd": self.cost_usd,
            "requests_without_cost": self.requests_without_cost,
            "tokens": {**self.tokens, "total": self.total_tokens},
            "models": [model.to_dict() for model in self.models],
            "api": {
                "requests": self.requests,
                "errors": self.errors,
                "retries": self.retries,
                "retries_exhausted": self.retries_exhausted,
                "error_types": dict(self.error_types),
            },
            "tools": {
                "uses": self.tool_uses,
                "failures": self.tool_failures,
                "by_name": [tool.to_dict() for tool in self.tools],
            },
            "commands": {
                "runs": self.command_runs,
                "unique": len(self.commands),
                "items": self.commands[:MAX_ITEMS],
                "omitted": max(0, len(self.commands) - MAX_ITEMS),
            },
            "files": {
                "read": _listing(self.files_read),
                "modified": _listing(self.files_modified),
            },
            "approvals": {
                "allowed": self.approvals_allowed,
                "denied": self.approvals_denied,
                "denied_tools": dict(self.denied_tools),
            },
            "lines": {"added": self.lines_added, "removed": self.lines_removed},
            "prompts": {
                "count": self.prompts,
                "texts": [text[:MAX_PROMPT_CHARS] for text in self.prompt_texts[:MAX_ITEMS]],
            },
            "redactions": dict(sorted(self.redactions.items())),
            "metrics": {
                "cost_usd": self.metrics_cost_usd,
                "tokens": None if self.metrics_tokens is None else dict(self.metrics_tokens),
                "agrees": self.metrics_agree,
            },
        }


def _listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "count": len(items),
        "items": items[:MAX_ITEMS],
        "omitted": max(0, len(items) - MAX_ITEMS),
    }


def compute(facts: RunFacts, selected: Selector) -> Figures:
    figures = Figures()
    _usage(figures, facts, selected)
    _api(figures, facts, selected)
    tools = [use for use in facts.tools.values() if selected(use.origin)]
    tools.sort(key=lambda use: use.start_ms if use.start_ms is not None else math.inf)
    _tools(figures, tools)
    _commands(figures, tools)
    _files(figures, tools)
    for approval in facts.approvals:
        if not selected(approval.origin):
            continue
        if approval.allowed:
            figures.approvals_allowed += 1
        else:
            figures.approvals_denied += 1
            tool = approval.tool or "unknown"
            figures.denied_tools[tool] = figures.denied_tools.get(tool, 0) + 1
    prompts = [prompt for prompt in facts.prompts if selected(prompt.origin)]
    figures.prompts = len(prompts)
    figures.prompt_texts = [prompt.text for prompt in prompts if prompt.text]
    for origin, counts in facts.redactions:
        if selected(origin):
            for family, count in counts.items():
                figures.redactions[family] = figures.redactions.get(family, 0) + count
    _metrics(figures, [point for point in facts.metrics if selected(point.origin)])
    return figures


def _usage(figures: Figures, facts: RunFacts, selected: Selector) -> None:
    by_model: dict[str, list[Any]] = {}
    for request in facts.requests:
        if selected(request.origin):
            by_model.setdefault(request.model, []).append(request)
    costs: list[float] = []
    for model in sorted(by_model):
        requests = by_model[model]
        tokens = {kind: sum(r.tokens[kind] for r in requests) for kind in TOKEN_KINDS}
        known = [r.cost_usd for r in requests if r.cost_usd is not None]
        cost = _cost(known) if len(known) == len(requests) else None
        figures.models.append(
            ModelFigures(
                model=model,
                names=sorted({r.raw_model for r in requests}),
                requests=len(requests),
                cost_usd=cost,
                tokens=tokens,
            )
        )
        figures.requests += len(requests)
        figures.requests_without_cost += len(requests) - len(known)
        costs.extend(known)
        for kind in TOKEN_KINDS:
            figures.tokens[kind] += tokens[kind]
    if figures.requests and not figures.requests_without_cost:
        figures.cost_usd = _cost(costs)


def _api(figures: Figures, facts: RunFacts, selected: Selector) -> None:
    from beacon.report.facts import RETRIES_EXHAUSTED

    for error in facts.errors:
        if not selected(error.origin):
            continue
        if error.kind == RETRIES_EXHAUSTED:
            figures.retries_exhausted += 1
            continue
        figures.errors += 1
        label = error.error_type or error.kind or "error"
        if error.status_code:
            label = f"{label} ({error.status_code})"
        figures.error_types[label] = figures.error_types.get(label, 0) + 1
    # Retries seen on events and on spans describe the same attempts: take the larger.
    per_signal: dict[str, int] = {}
    for (harness, session, signal), count in facts.retries.items():
        if selected(Origin(harness, session)):
            per_signal[signal] = per_signal.get(signal, 0) + count
    figures.retries = max(per_signal.values(), default=0)


def _tools(figures: Figures, tools: list[ToolUse]) -> None:
    by_name: dict[str, ToolFigures] = {}
    for use in tools:
        entry = by_name.setdefault(use.name, ToolFigures(use.name))
        entry.count += 1
        entry.failures += int(use.failed)
        if use.duration_ms is not None and use.duration_ms >= 0:
            entry.duration_ms += use.duration_ms
            entry.max_duration_ms = max(entry.max_duration_ms, use.duration_ms)
    figures.tools = sorted(by_name.values(), key=lambda tool: (-tool.count, tool.name))


def _commands(figures: Figures, tools: list[ToolUse]) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for use in tools:
        if use.command is None:
            continue
        figures.command_runs += 1
        entry = seen.setdefault(use.command, {"command": use.command, "count": 0, "failures": 0})
        entry["count"] += 1
        entry["failures"] += int(use.failed)
    figures.commands = list(seen.values())


def _files(figures: Figures, tools: list[ToolUse]) -> None:
    read: dict[str, dict[str, Any]] = {}
    modified: dict[str, dict[str, Any]] = {}
    for use in tools:
        if use.path is None or use.failed:
            continue
        if use.action == "file.read":
            entry = read.setdefault(use.path, {"path": use.path, "count": 0})
            entry["count"] += 1
        elif use.action == "file.modified":
            entry = modified.setdefault(use.path, {"path": use.path, "count": 0, "operations": []})
            entry["count"] += 1
            if use.operation and use.operation not in entry["operations"]:
                entry["operations"].append(use.operation)
    figures.files_read = list(read.values())
    figures.files_modified = list(modified.values())


def metric_total(points: Iterable[MetricPoint]) -> float:
    """Delta points add up; of a cumulative series only its latest point counts."""
    total: list[float] = []
    latest: dict[tuple[Any, ...], MetricPoint] = {}
    for point in points:
        if not point.cumulative:
            total.append(point.value)
            continue
        known = latest.get(point.series)
        if known is None or (point.at_ms or 0) >= (known.at_ms or 0):
            latest[point.series] = point
    total.extend(point.value for point in latest.values())
    return math.fsum(total)


def _metrics(figures: Figures, points: list[MetricPoint]) -> None:
    cost = [p for p in points if p.name == COST_METRIC]
    tokens = [p for p in points if p.name == TOKEN_METRIC]
    lines = [p for p in points if p.name == LINES_METRIC]
    if cost:
        figures.metrics_cost_usd = round(metric_total(cost), 9)
    if tokens:
        figures.metrics_tokens = {
            kind: round(metric_total(p for p in tokens if p.kind == kind)) for kind in TOKEN_KINDS
        }
    if lines:
        figures.lines_added = round(metric_total(p for p in lines if p.kind == "added"))
        figures.lines_removed = round(metric_total(p for p in lines if p.kind == "removed"))
