"""``beacon rules test|lint`` and ``beacon ci scan``: rules without a run (no typer here)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from beacon.cli.options import RulesLintArgs, RulesTestArgs, ScanArgs
from beacon.errors import UsageError

JSON_FLAG = "--json"


def _paths(command: list[str]) -> list[str]:
    if not command:
        raise UsageError("no rule file or directory given", hint="e.g. beacon rules test builtin")
    return command


def _load_each(specs: list[str]) -> list[tuple[Path, Any, str | None, str | None]]:
    """(file, rule or None, rule id, problem) for every rule file, a bad one included."""
    from beacon.errors import RuleFileError
    from beacon.rules.loader import load_rule_file, rule_files

    loaded: list[tuple[Path, Any, str | None, str | None]] = []
    seen: dict[str, Path] = {}
    for spec in specs:
        for path in rule_files(spec):
            try:
                rule = load_rule_file(path)
            except RuleFileError as exc:
                loaded.append((path, None, exc.rule_id, exc.problem))
                continue
            if rule.id in seen:
                problem = f"duplicate rule id (also in {seen[rule.id]})"
                loaded.append((path, None, rule.id, problem))
                continue
            seen[rule.id] = path
            loaded.append((path, rule, rule.id, None))
    return loaded


def run_rules_test(args: RulesTestArgs) -> int:
    from beacon.rules.conformance import RuleTestResult, run_fixtures

    # The paths are the command's positional list: a --json after them is the flag.
    json_output = args.json_output or JSON_FLAG in args.command
    specs = _paths([a for a in args.command if a != JSON_FLAG])
    results: list[RuleTestResult] = []
    invalid = False
    for path, rule, rule_id, problem in _load_each(specs):
        if rule is None:
            invalid = True
            result = RuleTestResult(rule_id or "", str(path), failed=1, errors=[str(problem)])
        else:
            result = run_fixtures(rule)
        results.append(result)
        mark = "ok  " if not result.failed else "FAIL"
        counts = f"{result.passed} passed, {result.failed} failed"
        print(f"{mark} {result.id or '?'} ({result.file}): {counts}")
        for error in result.errors:
            print(f"       {error}")
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    print(f"{len(results)} rules: {passed} tests passed, {failed} failed")
    if json_output:
        document = {"rules": [r.to_dict() for r in results], "passed": passed, "failed": failed}
        print(json.dumps(document, separators=(",", ":")))
    return 2 if invalid else (1 if failed else 0)


def run_rules_lint(args: RulesLintArgs) -> int:
    from beacon.rules.conformance import maturity_problem

    bad = 0
    loaded = _load_each(_paths(args.command))
    for path, rule, rule_id, problem in loaded:
        if rule is not None:
            problem = maturity_problem(rule)
        if problem is None:
            continue
        bad += 1
        where = f"{path}: rule {rule_id}" if rule_id else str(path)
        print(f"beacon: error: {where}: {problem}", file=sys.stderr)
    print(f"{len(loaded)} rule files, {bad} invalid")
    return 2 if bad else 0


def _latest_session(log_path: Path) -> str | None:
    from beacon.rules.stage import iter_run_lines

    latest = None
    for line in iter_run_lines(log_path, 0, None):
        beacon = line.get("beacon")
        if isinstance(beacon, dict) and isinstance(beacon.get("session_id"), str):
            latest = beacon["session_id"]
    return latest


def run_scan(args: ScanArgs) -> int:
    from beacon.cli.common import report_findings
    from beacon.cli.render import Reporter
    from beacon.config import resolve_paths
    from beacon.errors import ExitCode
    from beacon.rules.settings import rules_settings
    from beacon.rules.stage import evaluate_run

    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ, quiet=args.quiet, json_output=args.json_output)
    settings = rules_settings(args.rules, args.no_rules, args.fail_on, args.budget)
    path = resolve_paths(None, args.log_path, environ).log_path
    if not path.is_file():
        raise UsageError(f"no runtime log at {path}", hint="pass --log-path")
    session = args.session_id or _latest_session(path)
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
    return code
