"""``beacon rules test|lint`` and ``beacon ci scan``: rules without a run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from beacon.cli import options as o
from beacon.cli.app import app, ci_app

rules_app = typer.Typer(
    help="Detection rules: run their embedded tests, lint them.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")

RulePaths = Annotated[
    list[Path], typer.Argument(help="Rule files or directories ('builtin': beacon's pack).")
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print the results as the last stdout line.")
]
SessionId = Annotated[
    str | None,
    typer.Option("--session-id", help="The beacon run to scan [default: the most recent run]."),
]


def _files(specs: list[Path]) -> list[Path]:
    from beacon.rules.loader import rule_files

    files: list[Path] = []
    for spec in specs:
        files.extend(rule_files(str(spec)))
    return files


def _load_each(specs: list[Path]) -> list[tuple[Path, Any, str | None, str | None]]:
    """(file, rule or None, rule id, problem) for every rule file, a bad one included."""
    from beacon.errors import RuleFileError
    from beacon.rules.loader import load_rule_file

    loaded: list[tuple[Path, Any, str | None, str | None]] = []
    seen: dict[str, Path] = {}
    for path in _files(specs):
        try:
            rule = load_rule_file(path)
        except RuleFileError as exc:
            loaded.append((path, None, exc.rule_id, exc.problem))
            continue
        if rule.id in seen:
            loaded.append((path, None, rule.id, f"duplicate rule id (also in {seen[rule.id]})"))
            continue
        seen[rule.id] = path
        loaded.append((path, rule, rule.id, None))
    return loaded


@rules_app.command("test")
def test_command(paths: RulePaths, json_output: JsonFlag = False) -> None:
    """Run every rule's embedded tests. Exit 0 all pass, 1 a test failed, 2 a file is invalid."""
    from beacon.rules.conformance import RuleTestResult, run_fixtures

    results: list[RuleTestResult] = []
    invalid = False
    for path, rule, rule_id, problem in _load_each(paths):
        if rule is None:
            invalid = True
            result = RuleTestResult(rule_id or "", str(path), failed=1, errors=[str(problem)])
        else:
            result = run_fixtures(rule)
        results.append(result)
        mark = "ok  " if not result.failed else "FAIL"
        counts = f"{result.passed} passed, {result.failed} failed"
        typer.echo(f"{mark} {result.id or '?'} ({result.file}): {counts}")
        for error in result.errors:
            typer.echo(f"       {error}")
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    typer.echo(f"{len(results)} rules: {passed} tests passed, {failed} failed")
    if json_output:
        document = {"rules": [r.to_dict() for r in results], "passed": passed, "failed": failed}
        typer.echo(json.dumps(document, separators=(",", ":")))
    raise typer.Exit(2 if invalid else (1 if failed else 0))


@rules_app.command("lint")
def lint_command(paths: RulePaths) -> None:
    """Check rule files: YAML, known fields, CEL, windows, ids. Exit 2 when one is bad."""
    from beacon.rules.conformance import maturity_problem

    bad = 0
    loaded = _load_each(paths)
    for path, rule, rule_id, problem in loaded:
        if rule is not None:
            problem = maturity_problem(rule)
        if problem is None:
            continue
        bad += 1
        where = f"{path}: rule {rule_id}" if rule_id else str(path)
        typer.echo(f"beacon: error: {where}: {problem}", err=True)
    typer.echo(f"{len(loaded)} rule files, {bad} invalid")
    raise typer.Exit(2 if bad else 0)


def _latest_session(log_path: Path) -> str | None:
    from beacon.rules.stage import iter_run_lines

    latest = None
    for line in iter_run_lines(log_path, 0, None):
        beacon = line.get("beacon")
        if isinstance(beacon, dict) and isinstance(beacon.get("session_id"), str):
            latest = beacon["session_id"]
    return latest


@ci_app.command("scan")
def scan_command(
    log_path: o.LogPath = None,
    session_id: SessionId = None,
    rules: o.RulesOpt = None,
    no_rules: o.NoRules = False,
    fail_on: o.FailOn = None,
    budget: o.BudgetOpt = None,
    json_output: o.JsonOutput = False,
    quiet: o.Quiet = False,
) -> None:
    """Evaluate rules and budgets over one run of runtime.jsonl.

    Exit 7 when a finding is at or above --fail-on, 0 otherwise.
    """
    from beacon.cli.common import report_findings
    from beacon.cli.render import Reporter
    from beacon.config import resolve_paths
    from beacon.errors import ExitCode, UsageError
    from beacon.rules.settings import rules_settings
    from beacon.rules.stage import evaluate_run

    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=quiet, json_output=json_output)
    settings = rules_settings(rules or [], no_rules, fail_on, budget or [])
    path = resolve_paths(None, log_path, environ).log_path
    if not path.is_file():
        raise UsageError(f"no runtime log at {path}", hint="pass --log-path")
    session = session_id or _latest_session(path)
    outcome = evaluate_run(path, start=0, session_id=session, settings=settings)
    code = int(ExitCode.POLICY_FAILED) if outcome.policy_failed else int(ExitCode.OK)
    result = {
        "session_id": session,
        "exit_code": code,
        "findings": [f.to_dict() for f in outcome.findings],
        "findings_summary": outcome.summary,
    }
    report_findings(reporter, result)
    reporter.result(result)
    raise typer.Exit(code)
