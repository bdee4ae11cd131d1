"""Rule documents as data: what the Beacon threat-rule loader accepts, plus budgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from beacon.rules.severity import SEVERITIES, SEVERITY_RANK, severity_rank

__all__ = ["SEVERITIES", "SEVERITY_RANK", "severity_rank"]

STATUSES = ("experimental", "stable", "deprecated")
POSTURES = ("detect", "enforce-capable")
VERDICTS = ("match", "no_match")


@dataclass(frozen=True)
class Step:
    id: str
    match: str


@dataclass(frozen=True)
class Correlation:
    scope: str
    window: str
    steps: tuple[Step, ...]
    window_s: float = 0.0


@dataclass(frozen=True)
class BudgetLimit:
    """One aggregate limit: ``cost_usd <= 5`` (for ``model`` only, when set)."""

    metric: str
    limit: float
    model: str | None = None

    @property
    def label(self) -> str:
        return self.metric if self.model is None else f"{self.metric}@{self.model}"


@dataclass(frozen=True)
class Fixture:
    name: str
    verdict: str
    events: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    title: str
    severity: str
    status: str
    posture: str
    reason: str
    description: str = ""
    taxonomy: dict[str, str] = field(default_factory=dict)
    match: str = ""
    correlation: Correlation | None = None
    budget: tuple[BudgetLimit, ...] = ()
    tests: tuple[Fixture, ...] = ()
    file: str = ""

    @property
    def kind(self) -> str:
        if self.budget:
            return "budget"
        return "correlation" if self.correlation is not None else "match"

    def expressions(self) -> list[tuple[str, str]]:
        """(where, CEL text) for every expression, for errors and compiling."""
        if self.correlation is not None:
            return [
                (f"correlation.steps[{index}] ({step.id})", step.match)
                for index, step in enumerate(self.correlation.steps)
            ]
        return [("match", self.match)] if self.match else []
