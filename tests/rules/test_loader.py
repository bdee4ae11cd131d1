"""Bad rule files: a clear error naming the file, the rule id and the problem; exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beacon.errors import ExitCode, RuleFileError
from beacon.rules.loader import load_rule_file, load_rules
from tests.cli.helpers import beacon

GOOD = """\
id: demo-rule
version: 1
title: Demo
severity: high
status: experimental
posture: detect
match: e.event.action == "command.executed" && e.command.command.contains("rm -rf /")
emit:
  reason: demo
tests:
  - name: hit
    verdict: match
    events:
      - { event: { action: command.executed }, command: { command: "rm -rf / --no-preserve-root" } }
"""

BAD = {
    "invalid-yaml": ("id: [unclosed\n", "invalid YAML"),
    "bad-cel": (
        GOOD.replace('contains("rm -rf /")', 'contains("rm -rf /"'),
        "match: unexpected end of expression, expected ',' or ')'",
    ),
    "unknown-field": (
        GOOD.replace("posture: detect", "posture: detect\nseverty: low"),
        "unknown field 'severty'",
    ),
    "unknown-event-field": (
        GOOD.replace("e.command.command.contains", "e.command.cmd.contains"),
        "undefined field 'command.cmd'",
    ),
    "bad-window": (
        GOOD.replace(
            'match: e.event.action == "command.executed" && e.command.command.contains("rm -rf /")',
            "correlation:\n  scope: session\n  window: 5 minutes\n  steps:\n"
            "    - { id: a, match: 'e.event.action == \"a\"' }\n"
            "    - { id: b, match: 'e.event.action == \"b\"' }",
        ),
        "correlation.window '5 minutes'",
    ),
    "both-kinds": (
        GOOD.replace("emit:", "correlation: {scope: session, window: 1m, steps: []}\nemit:"),
        "exactly one of match, correlation or budget",
    ),
    "bad-severity": (
        GOOD.replace("severity: high", "severity: urgent"),
        "invalid severity 'urgent'",
    ),
}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.rule.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_problem_is_named_with_file_and_rule(tmp_path: Path, case: str) -> None:
    text, problem = BAD[case]
    path = write(tmp_path, case, text)
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    error = caught.value
    assert error.exit_code == ExitCode.USAGE
    assert error.file == str(path)
    assert problem in error.problem
    if case != "invalid-yaml":
        assert error.rule_id == "demo-rule"
        assert str(error).startswith(f"{path}: rule demo-rule: ")


def test_good_rule_loads_and_duplicate_ids_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a", GOOD)
    assert [r.id for r in load_rules([tmp_path])] == ["demo-rule"]
    write(tmp_path, "b", GOOD)
    with pytest.raises(RuleFileError, match="duplicate rule id 'demo-rule'"):
        load_rules([tmp_path])


def test_missing_optional_fields_read_as_the_go_loader_reads_them(tmp_path: Path) -> None:
    # description and taxonomy absent: fine; version absent reads as 0 and fails ">= 1".
    rule = load_rule_file(write(tmp_path, "a", GOOD))
    assert rule.description == "" and rule.taxonomy == {}
    with pytest.raises(RuleFileError, match="version must be >= 1, got 0"):
        load_rule_file(write(tmp_path, "b", GOOD.replace("version: 1\n", "")))


def test_lint_cli_reports_every_bad_file_and_exits_2(tmp_path: Path) -> None:
    write(tmp_path, "good", GOOD.replace("demo-rule", "good-rule"))
    for case, (text, _) in BAD.items():
        write(tmp_path, case, text.replace("demo-rule", case))
    result = beacon("rules", "lint", str(tmp_path))
    assert result.returncode == ExitCode.USAGE, result.stderr
    for case, (_, problem) in BAD.items():
        line = next(line for line in result.stderr.splitlines() if f"{case}.rule.yaml" in line)
        assert problem in line
        if case != "invalid-yaml":
            assert f"rule {case}:" in line
    assert f"{len(BAD) + 1} rule files, {len(BAD)} invalid" in result.stdout
    assert beacon("rules", "lint", "builtin").returncode == 0


def test_rules_test_json_is_the_last_stdout_line(tmp_path: Path) -> None:
    write(tmp_path, "good", GOOD)
    wrong = GOOD.replace("demo-rule", "wrong-rule").replace("verdict: match", "verdict: no_match")
    write(tmp_path, "wrong", wrong)
    result = beacon("rules", "test", str(tmp_path), "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout.splitlines()[-1])
    assert document["passed"] == 1 and document["failed"] == 1
    by_id = {r["id"]: r for r in document["rules"]}
    assert set(by_id["demo-rule"]) == {"id", "file", "passed", "failed", "errors"}
    assert by_id["demo-rule"]["passed"] == 1
    assert by_id["wrong-rule"]["errors"] == ["hit: expected no_match, got match"]


def test_rules_test_builtin_passes_everything() -> None:
    result = beacon("rules", "test", "builtin", "--json")
    assert result.returncode == 0, result.stdout
    document = json.loads(result.stdout.splitlines()[-1])
    assert document["failed"] == 0 and document["passed"] >= 12 * 3
    assert all(r["failed"] == 0 and r["passed"] >= 3 for r in document["rules"])


def test_bad_rules_fail_ci_exec_before_the_child_runs(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad", BAD["bad-cel"][0])
    marker = tmp_path / "ran"
    result = beacon(
        "ci",
        "exec",
        "--base-dir",
        str(tmp_path / "b"),
        "--rules",
        str(bad),
        "--",
        "touch",
        str(marker),
    )
    assert result.returncode == ExitCode.USAGE
    assert f"{bad}: rule demo-rule: match: unexpected end of expression" in result.stderr
    assert not marker.exists()
    for option, value in (("--fail-on", "urgent"), ("--budget", "cost=5")):
        result = beacon(
            "ci", "exec", "--base-dir", str(tmp_path / "b"), option, value, "--", "true"
        )
        assert result.returncode == ExitCode.USAGE, result.stderr
        assert f"invalid {option}" in result.stderr


def test_the_budget_example_in_the_docs_loads_and_passes(tmp_path: Path) -> None:
    from beacon.rules.conformance import run_fixtures

    text = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    section = text.split("### Budgets", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    rule = load_rule_file(write(tmp_path, "spend", example))
    assert rule.kind == "budget" and {b.metric for b in rule.budget} == {"cost_usd", "tokens"}
    result = run_fixtures(rule)
    assert (result.passed, result.failed) == (2, 0), result.errors
