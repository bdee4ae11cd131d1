"""Budgets (beacon's extension to the rule format): limits on a run's aggregates.

The aggregates are summed from the run's runtime lines: cost and tokens from
the usage each API request reports (``gen_ai.usage.*``), API requests as the
lines that carry usage, API errors as ``session.error`` lines, commands as
``command.executed`` lines of the agent (a tool call's log record and span
counted once), files modified as distinct paths of ``file.modified`` lines,
and the duration from the first to the last timestamp of the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from beacon.rules.findings import Finding
from beacon.rules.model import BudgetLimit, Rule

#: Aggregates that can be limited per model.
PER_MODEL = frozenset(
    {"cost_usd", "input_tokens", "output_tokens", "tokens", "api_requests", "api_errors"}
)


def _get(event: Mapping[str, Any], *parts: str) -> Any:
    node: Any = event
    for part in parts:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _number(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return 0.0


@dataclass
class Usage:
    cost_usd: float = 0.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    api_requests: float = 0.0
    api_errors: float = 0.0

    def value(self, metric: str) -> float:
        if metric == "tokens":
            return self.input_tokens + self.output_tokens
        return float(getattr(self, metric))


@dataclass
class Aggregates:
    total: Usage = field(default_factory=Usage)
    models: dict[str, Usage] = field(default_factory=dict)
    commands: int = 0
    files: set[str] = field(default_factory=set)
    first_time: str | None = None
    last_time: str | None = None
    _calls: set[str] = field(default_factory=set)

    def _usages(self, event: Mapping[str, Any]) -> list[Usage]:
        model = _get(event, "model") or _get(event, "gen_ai", "request", "model")
        if isinstance(model, str) and model:
            return [self.total, self.models.setdefault(model, Usage())]
        return [self.total]

    def add(self, event: Mapping[str, Any]) -> None:
        timestamp = event.get("timestamp")
        if isinstance(timestamp, str) and timestamp:
            if self.first_time is None or timestamp < self.first_time:
                self.first_time = timestamp
            if self.last_time is None or timestamp > self.last_time:
                self.last_time = timestamp
        action = _get(event, "event", "action")
        usage = _get(event, "gen_ai", "usage")
        if isinstance(usage, dict) and usage:
            for target in self._usages(event):
                target.cost_usd += _number(usage.get("cost_usd"))
                target.input_tokens += _number(usage.get("input_tokens"))
                target.output_tokens += _number(usage.get("output_tokens"))
                target.api_requests += 1
        if action == "session.error":
            for target in self._usages(event):
                target.api_errors += 1
        if _get(event, "harness", "name") == "beacon":
            return
        if action == "command.executed":
            call = _get(event, "gen_ai", "tool", "call", "id")
            if not isinstance(call, str) or call not in self._calls:
                self.commands += 1
                if isinstance(call, str):
                    self._calls.add(call)
        elif action == "file.modified":
            path = _get(event, "file", "path")
            if isinstance(path, str) and path:
                self.files.add(path)

    def duration_s(self) -> float:
        from beacon.rules.engine import event_time

        if self.first_time is None or self.last_time is None:
            return 0.0
        start = event_time({"timestamp": self.first_time})
        end = event_time({"timestamp": self.last_time})
        return max(0.0, end - start) if start is not None and end is not None else 0.0

    def value(self, limit: BudgetLimit) -> float:
        if limit.metric == "duration":
            return self.duration_s()
        if limit.metric == "commands":
            return float(self.commands)
        if limit.metric == "files_modified":
            return float(len(self.files))
        usage = self.total if limit.model is None else self.models.get(limit.model, Usage())
        return usage.value(limit.metric)

    def to_dict(self) -> dict[str, Any]:
        def usage(u: Usage) -> dict[str, float]:
            return {
                "cost_usd": round(u.cost_usd, 6),
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "tokens": u.value("tokens"),
                "api_requests": u.api_requests,
                "api_errors": u.api_errors,
            }

        return {
            **usage(self.total),
            "duration": round(self.duration_s(), 3),
            "commands": self.commands,
            "files_modified": len(self.files),
            "models": {name: usage(u) for name, u in sorted(self.models.items())},
        }


def exceeded(rule: Rule, aggregates: Aggregates) -> list[tuple[BudgetLimit, float]]:
    return [
        (limit, value) for limit in rule.budget if (value := aggregates.value(limit)) > limit.limit
    ]


def budget_findings(rule: Rule, aggregates: Aggregates) -> list[Finding]:
    findings = []
    for limit, value in exceeded(rule, aggregates):
        findings.append(
            Finding(
                rule_id=rule.id,
                title=rule.title,
                severity=rule.severity,
                posture=rule.posture,
                session_id="",
                reason=f"{rule.reason}: {limit.label} {value:g} > {limit.limit:g}",
                events=[
                    {
                        "metric": limit.metric,
                        "model": limit.model,
                        "value": round(value, 6),
                        "limit": limit.limit,
                    }
                ],
                kind="budget",
            )
        )
    return findings
