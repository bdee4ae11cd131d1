"""The rules stage of a run's end: this run's lines of runtime.jsonl -> findings.

It reads back the lines the pipeline wrote (after redaction, so rules see
exactly what is stored), from the log's size before the pipeline ran, and
keeps those of this beacon run. The builtin pack is loaded and compiled only
when the run holds an agent event: a run of ``sleep 1`` (only beacon's own
lifecycle lines) costs a read of its few lines and no YAML or CEL at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beacon.rules.settings import BUILTIN, RulesSettings
from beacon.rules.severity import at_or_above, severity_counts

LIFECYCLE_HARNESS = "beacon"

if TYPE_CHECKING:
    from beacon.rules.engine import RuleEngine
    from beacon.rules.findings import Finding
    from beacon.rules.model import Rule


class RulesOutcome:
    """The findings, the summary for result.json, and those at or above ``--fail-on``."""

    def __init__(self, findings: list[Finding], summary: dict[str, Any], failing: list[Finding]):
        self.findings = findings
        self.summary = summary
        self.failing = failing

    @property
    def policy_failed(self) -> bool:
        return bool(self.failing)


def cli_budget_rules(settings: RulesSettings) -> list[Rule]:
    if not settings.budgets:
        return []
    from beacon.rules.model import Fixture, Rule

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


def _raw_lines(log_path: Path, start: int) -> Iterator[bytes]:
    try:
        handle = log_path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        handle.seek(start)
        yield from handle


def _parse(raw: bytes, session_id: str | None) -> dict[str, Any] | None:
    import orjson

    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(line, dict):
        return None
    if session_id is not None:
        beacon = line.get("beacon")
        if not isinstance(beacon, dict) or beacon.get("session_id") != session_id:
            return None
    return line


def iter_run_lines(log_path: Path, start: int, session_id: str | None) -> Iterator[dict[str, Any]]:
    """The parsed lines from byte ``start`` on that belong to ``session_id`` (all when None)."""
    for raw in _raw_lines(log_path, start):
        if raw.strip():
            line = _parse(raw, session_id)
            if line is not None:
                yield line


#: beacon's own lines (lifecycle records, the summary): never an agent event.
_LIFECYCLE = re.compile(rb'"harness"\s*:\s*\{\s*"name"\s*:\s*"beacon"')


def _action_pattern(actions: frozenset[str]) -> re.Pattern[bytes]:
    """Finds a line whose ``event.action`` is one of ``actions`` without parsing it.

    Rules only look at lines with these actions, so the others are not parsed at
    all (most of a run: API requests, responses, spans, metrics).
    """
    names = b"|".join(re.escape(a.encode()) for a in sorted(actions))
    return re.compile(rb'"action"\s*:\s*"(?:' + names + rb')"')


def evaluate_run(
    log_path: Path, *, start: int, session_id: str | None, settings: RulesSettings
) -> RulesOutcome:
    """Findings of this run's lines under ``settings`` (see the module docstring)."""
    budget_rules = cli_budget_rules(settings)
    user_specs = [s for s in settings.rules if s != BUILTIN]
    loaded: list[Rule] = []
    engine: RuleEngine | None = None
    wanted: re.Pattern[bytes] | None = None
    every_line = bool(budget_rules)  # budgets sum over every line
    lines = parsed = 0
    pending: list[dict[str, Any]] = []  # lines parsed before the engine existed
    # A user's rules may hold budgets, which need every line: load them before reading.
    # The builtin pack holds none, so it waits for the first agent line.
    eager = bool(user_specs)
    for raw in _raw_lines(log_path, start):
        if not raw.strip():
            continue
        lines += 1
        if engine is None and settings.rules and (eager or not _LIFECYCLE.search(raw)):
            from beacon.rules.engine import RuleEngine

            loaded = _load(settings.rules)
            engine = RuleEngine([*loaded, *budget_rules])
            every_line = every_line or engine.budget_rules != [] or engine.any_action != []
            wanted = None if every_line else _action_pattern(frozenset(engine.by_action))
            for held in pending:
                engine.feed(held)
            pending.clear()
        if engine is None:
            if every_line:
                line = _parse(raw, session_id)
                if line is not None:
                    parsed += 1
                    pending.append(line)
            continue
        if wanted is not None and not wanted.search(raw):
            continue
        line = _parse(raw, session_id)
        if line is not None:
            parsed += 1
            engine.feed(line)
    if engine is None:
        if not budget_rules:
            # No agent event and no budget: nothing can fire (engine and CEL never imported).
            return RulesOutcome([], _summary(settings, [], lines=lines, parsed=parsed), [])
        from beacon.rules.engine import RuleEngine

        engine = RuleEngine(budget_rules)
        for held in pending:
            engine.feed(held)
    from beacon.rules.findings import sort_findings

    result = engine.finish()
    findings = result.findings
    sort_findings(findings)
    failing = at_or_above(findings, settings.fail_on)
    summary = _summary(settings, findings, lines=lines, parsed=parsed)
    summary.update(
        rules_loaded=len(loaded) + len(budget_rules),
        rules_not_applicable=len(result.not_applicable),
        not_applicable=result.not_applicable,
        rule_errors=result.errors,
        suppressed=result.suppressed,
    )
    if engine.budget_rules:
        summary["aggregates"] = result.aggregates.to_dict()
    return RulesOutcome(findings, summary, failing)


def _summary(
    settings: RulesSettings, findings: list[Finding], *, lines: int, parsed: int
) -> dict[str, Any]:
    return {
        "total": len(findings),
        "counts": severity_counts(findings),
        "fail_on": settings.fail_on,
        "at_or_above_fail_on": len(at_or_above(findings, settings.fail_on)),
        "rules_loaded": 0,
        "lines_read": lines,
        "lines_evaluated": parsed,
        "rules_not_applicable": 0,
        "not_applicable": [],
        "rule_errors": [],
        "suppressed": {},
    }


def _load(specs: tuple[str, ...] | list[str]) -> list[Rule]:
    from beacon.rules.loader import load_rules

    return load_rules(specs)
