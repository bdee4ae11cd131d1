"""beacon's own pack: every rule loads, lints clean and passes its embedded tests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from beacon.rules.conformance import maturity_problem, run_fixtures
from beacon.rules.loader import builtin_dir, load_rules
from beacon.rules.model import Fixture

PACK = load_rules(["builtin"])


def test_pack_covers_the_required_detections() -> None:
    assert {rule.id for rule in PACK} >= {
        "ci-secret-read-then-egress",
        "ci-download-piped-to-shell",
        "ci-pipeline-config-modified",
        "ci-git-force-push",
        "ci-agent-permission-bypass",
        "ci-command-after-denied-approval",
        "ci-cloud-metadata-access",
        "ci-credential-file-read",
        "ci-package-publish",
        "ci-write-outside-workspace",
        "ci-mcp-server-not-allowed",
        "ci-secret-in-command-line",
    }
    # A run without agent events never loads the pack (stage.py) because it has no budgets.
    assert all(rule.kind != "budget" for rule in PACK)
    assert all(rule.file.startswith(str(builtin_dir())) for rule in PACK)


@pytest.mark.parametrize("rule", PACK, ids=lambda r: r.id)
def test_embedded_tests_pass(rule: object) -> None:
    result = run_fixtures(rule)  # type: ignore[arg-type]
    assert result.errors == []
    assert result.failed == 0
    assert result.passed == len(rule.tests)  # type: ignore[attr-defined]
    assert maturity_problem(rule) is None  # type: ignore[arg-type]


def test_a_wrong_verdict_is_reported_as_a_failure() -> None:
    rule = next(r for r in PACK if r.id == "ci-git-force-push")
    flipped = tuple(
        Fixture(f.name, "no_match" if f.verdict == "match" else "match", f.events)
        for f in rule.tests
    )
    result = run_fixtures(replace(rule, tests=flipped))
    assert result.passed == 0
    assert result.failed == len(rule.tests)
    assert "force: expected no_match, got match" in result.errors


def test_stable_rule_without_a_no_match_fixture_fails_the_maturity_gate() -> None:
    rule = next(r for r in PACK if r.id == "ci-git-force-push")
    only_matches = tuple(f for f in rule.tests if f.verdict == "match")
    problem = maturity_problem(replace(rule, tests=only_matches))
    assert problem is not None and "no_match" in problem
