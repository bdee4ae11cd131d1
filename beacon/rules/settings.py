"""What ``--rules``, ``--no-rules``, ``--fail-on`` and ``--budget`` ask for, checked once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beacon.errors import UsageError
from beacon.rules.severity import SEVERITIES

if TYPE_CHECKING:
    from beacon.rules.model import BudgetLimit

BUILTIN = "builtin"
CLI_BUDGET_SEVERITY = "high"
_BUDGET = re.compile(r"^\s*([a-z_]+)(?:@([^=]+))?\s*=\s*([^:]+?)\s*(?::\s*([a-z]+))?\s*$")


@dataclass(frozen=True)
class CliBudget:
    limit: BudgetLimit
    severity: str = CLI_BUDGET_SEVERITY


@dataclass(frozen=True)
class RulesSettings:
    rules: tuple[str, ...] = (BUILTIN,)
    enabled: bool = True
    fail_on: str | None = None
    budgets: tuple[CliBudget, ...] = ()

    @property
    def active(self) -> bool:
        return (self.enabled and bool(self.rules)) or bool(self.budgets)


def parse_fail_on(value: str | None) -> str | None:
    if value is None or value.strip().lower() in ("", "never", "none"):
        return None
    lowered = value.strip().lower()
    if lowered not in SEVERITIES:
        raise UsageError(
            f"invalid --fail-on {value!r}", hint=f"use one of: {', '.join(SEVERITIES)}"
        )
    return lowered


def parse_budget(text: str) -> CliBudget:
    """``cost_usd=5``, ``tokens@claude-opus-4-8=100000``, ``duration=30m:critical``."""
    from beacon.rules.loader import BUDGET_METRICS, _Problem, budget_value
    from beacon.rules.model import BudgetLimit

    found = _BUDGET.match(text)
    if found is None or found.group(1) not in BUDGET_METRICS:
        raise UsageError(
            f"invalid --budget {text!r}",
            hint=f"KEY[@MODEL]=VALUE[:SEVERITY], KEY one of {', '.join(BUDGET_METRICS)}",
        )
    metric, model, raw, severity = found.groups()
    if model and metric in ("duration", "commands", "files_modified"):
        raise UsageError(f"invalid --budget {text!r}: {metric} cannot be limited per model")
    if severity is not None and severity not in SEVERITIES:
        raise UsageError(
            f"invalid --budget {text!r}: severity {severity!r}",
            hint=f"use one of: {', '.join(SEVERITIES)}",
        )
    try:
        value = budget_value(metric, raw)
    except _Problem as exc:
        raise UsageError(f"invalid --budget {text!r}: {exc}") from exc
    return CliBudget(
        BudgetLimit(metric, value, model.strip() if model else None),
        severity or CLI_BUDGET_SEVERITY,
    )


def rules_settings(
    rules: Sequence[str], no_rules: bool, fail_on: str | None, budgets: Sequence[str]
) -> RulesSettings:
    """Checked before the child runs: a bad rule file fails the step at once (exit 2)."""
    specs = tuple(rules) or (BUILTIN,)
    settings = RulesSettings(
        rules=() if no_rules else specs,
        enabled=not no_rules,
        fail_on=parse_fail_on(fail_on),
        budgets=tuple(parse_budget(b) for b in budgets),
    )
    user_specs = [s for s in settings.rules if s != BUILTIN]
    if user_specs:
        from beacon.rules.loader import load_rules

        load_rules(user_specs)  # raises RuleFileError (exit 2) with file, id and problem
    return settings
