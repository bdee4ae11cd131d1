"""The rules stage of a run's end: this run's lines of runtime.jsonl -> findings.

It reads back the lines the pipeline wrote (after redaction, so rules see
exactly what is stored), from the log's size before the pipeline ran, and
keeps those of this beacon run. The builtin pack is loaded and compiled only
when the run holds an agent event: a run of ``sleep 1`` (only beacon's own
lifecycle lines) costs a read of its few lines and no YAML or CEL at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beacon.rules.budgets import Aggregates
from beacon.rules.findings import Finding, at_or_above, severity_counts, sort_findings
from beacon.rules.model import Rule
from beacon.rules.settings import BUILTIN, RulesSettings

LIFECYCLE_HARNESS = "beacon"


@dataclass
class RulesOutcome:
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    failing: list[Finding] = field(default_factory=list)

    @property
    def policy_failed(self) -> bool:
        return bool(self.failing)


def cli_budget_rules(settings: RulesSettings) -> list[Rule]:
    from beacon.rules.model import Fixture

    rules = []
    for budget in settings.budgets:
        limit = budget.limit
        slug = limit.metric.replace("_", "-") + (
            ""
            if limit.model is None
            else "-" + "".join(c if c.isalnum() else "-" for c in limit.model.lower())
        )
        rules.append(
            Rule(
                id=f"budget-{slug}",
                version=1,
                title=f"Budget: {limit.label} <= {limit.limit:g}",
                severity=budget.severity,
                status="stable",
                posture="detect",
                reason="run over its --budget",
                budget=(limit,),
                tests=(Fixture("cli", "no_match", ({},)),),
                file="--budget",
            )
        )
    return rules


def iter_run_lines(log_path: Path, start: int, session_id: str | None) -> Iterator[dict[str, Any]]:
    """The parsed lines from byte ``start`` on that belong to ``session_id`` (all when None)."""
    import orjson

    try:
        handle = log_path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        handle.seek(start)
        for raw in handle:
            if not raw.strip():
                continue
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(line, dict):
                continue
            if session_id is not None:
                beacon = line.get("beacon")
                if not isinstance(beacon, dict) or beacon.get("session_id") != session_id:
                    continue
            yield line


def _is_agent_line(line: dict[str, Any]) -> bool:
    harness = line.get("harness")
    return not (isinstance(harness, dict) and harness.get("name") == LIFECYCLE_HARNESS)


def evaluate_run(
    log_path: Path, *, start: int, session_id: str | None, settings: RulesSettings
) -> RulesOutcome:
    """Findings of this run's lines under ``settings`` (see the module docstring)."""
    from beacon.rules.engine import RuleEngine

    budget_rules = cli_budget_rules(settings)
    user_specs = [s for s in settings.rules if s != BUILTIN]
    loaded: list[Rule] | None = None
    engine: RuleEngine | None = None
    aggregates = Aggregates()
    lines = 0
    for line in iter_run_lines(log_path, start, session_id):
        lines += 1
        if engine is None and settings.rules and _is_agent_line(line):
            loaded = _load(settings.rules)
            engine = RuleEngine([*loaded, *budget_rules])
            engine.aggregates = aggregates
        if engine is not None:
            engine.feed(line)
        else:
            aggregates.add(line)
    if engine is None:
        # No agent event: only budgets and the user's own budget rules can fire.
        loaded = _load(user_specs) if user_specs else []
        engine = RuleEngine([*(r for r in loaded if r.kind == "budget"), *budget_rules])
        engine.aggregates = aggregates
    result = engine.finish()
    findings = result.findings
    sort_findings(findings)
    failing = at_or_above(findings, settings.fail_on)
    summary: dict[str, Any] = {
        "total": len(findings),
        "counts": severity_counts(findings),
        "fail_on": settings.fail_on,
        "at_or_above_fail_on": len(failing),
        "rules_loaded": len(loaded or []) + len(budget_rules),
        "lines_evaluated": lines,
        "rules_not_applicable": len(result.not_applicable),
        "not_applicable": result.not_applicable,
        "rule_errors": result.errors,
        "suppressed": result.suppressed,
        "aggregates": aggregates.to_dict(),
    }
    return RulesOutcome(findings, summary, failing)


def _load(specs: tuple[str, ...] | list[str]) -> list[Rule]:
    from beacon.rules.loader import load_rules

    return load_rules(specs)
