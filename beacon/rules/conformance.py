"""Run every rule's embedded tests (``conformance.go``: ``CheckRule``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from beacon.rules.model import Rule


@dataclass
class RuleTestResult:
    id: str
    file: str
    passed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "passed": self.passed,
            "failed": self.failed,
            "errors": list(self.errors),
        }


def maturity_problem(rule: Rule) -> str | None:
    """``CheckMaturity``: a stable rule needs a match and a no_match fixture."""
    if rule.status != "stable":
        return None
    verdicts = {f.verdict for f in rule.tests}
    if {"match", "no_match"} <= verdicts:
        return None
    return f"stable rule {rule.id!r} must have at least one 'match' and one 'no_match' fixture"


def run_fixtures(rule: Rule) -> RuleTestResult:
    from beacon.rules.engine import RuleEngine

    result = RuleTestResult(rule.id, rule.file)
    problem = maturity_problem(rule)
    if problem is not None:
        result.failed = len(rule.tests)
        result.errors.append(problem)
        return result
    for fixture in rule.tests:
        engine = RuleEngine([rule])
        for event in fixture.events:
            engine.feed(event)
        outcome = engine.finish()
        if outcome.errors:
            result.failed += 1
            result.errors.append(f"{fixture.name}: error: {outcome.errors[0]['error']}")
            continue
        actual = "match" if outcome.findings else "no_match"
        if actual == fixture.verdict:
            result.passed += 1
        else:
            result.failed += 1
            result.errors.append(f"{fixture.name}: expected {fixture.verdict}, got {actual}")
    return result
