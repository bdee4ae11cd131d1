"""Read ``*.rule.yaml`` files: strict decoding and the Go loader's validation.

Unknown keys are errors (the Go loader decodes with ``KnownFields(true)``), as
are the problems ``Rule.Validate`` reports, in the same order. Every error
names the file, the rule id (when it was read) and what is wrong.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from beacon.errors import RuleFileError
from beacon.rules.durations import parse_go_duration
from beacon.rules.model import (
    POSTURES,
    SEVERITIES,
    STATUSES,
    VERDICTS,
    BudgetLimit,
    Correlation,
    Fixture,
    Rule,
    Step,
)

RULE_SUFFIX = ".rule.yaml"
BUILTIN = "builtin"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_TOP_KEYS = frozenset(
    {
        "id",
        "version",
        "title",
        "description",
        "severity",
        "status",
        "posture",
        "taxonomy",
        "match",
        "correlation",
        "emit",
        "tests",
        "budget",  # beacon's extension
    }
)
_CORRELATION_KEYS = frozenset({"scope", "window", "steps"})
_STEP_KEYS = frozenset({"id", "match"})
_EMIT_KEYS = frozenset({"reason"})
_FIXTURE_KEYS = frozenset({"name", "verdict", "events"})
BUDGET_METRICS = (
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "tokens",
    "api_requests",
    "api_errors",
    "duration",
    "commands",
    "files_modified",
)
_BUDGET_KEYS = frozenset({*BUDGET_METRICS, "model"})


class _Problem(Exception):
    """What is wrong with one rule; the loader adds file and id."""


def builtin_dir() -> Path:
    return Path(str(resources.files("beacon.rules").joinpath("pack")))


def rule_files(spec: str | Path) -> list[Path]:
    """The rule files a ``--rules`` value names: ``builtin``, a file, or a directory tree."""
    if str(spec) == BUILTIN:
        spec = builtin_dir()
    path = Path(spec)
    if path.is_dir():
        return sorted(
            p for p in path.rglob(f"*{RULE_SUFFIX}") if p.is_file() and not p.name.startswith("._")
        )
    if path.is_file():
        return [path]
    raise RuleFileError(f"no such rule file or directory: {path}", file=str(path))


def load_rules(specs: Iterable[str | Path]) -> list[Rule]:
    """Every rule of every spec, sorted by id; a duplicate id is an error."""
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for spec in specs:
        loaded = builtin_pack() if str(spec) == BUILTIN else _load_files(spec)
        for path, rule in loaded:
            if rule.id in seen and seen[rule.id] != str(path):
                raise RuleFileError(
                    f"duplicate rule id {rule.id!r} (also in {seen[rule.id]})",
                    file=str(path),
                    rule_id=rule.id,
                )
            seen[rule.id] = str(path)
            rules.append(rule)
    rules.sort(key=lambda r: r.id)
    return rules


@functools.cache
def builtin_pack() -> tuple[tuple[Path, Rule], ...]:
    """beacon's own pack, read and compiled once per process: it ships with beacon, so
    ``ci exec`` may load it while the child runs (``run.exec.warm_up_pipeline``)."""
    return _load_files(BUILTIN)


def _load_files(spec: str | Path) -> tuple[tuple[Path, Rule], ...]:
    return tuple((path, load_rule_file(path)) for path in rule_files(spec))


def _yaml_loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_rule_file(path: Path) -> Rule:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"cannot read: {exc}", file=str(path)) from exc
    try:
        document = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise RuleFileError(f"invalid YAML: {exc}".replace("\n", " "), file=str(path)) from exc
    rule_id = document.get("id") if isinstance(document, dict) else None
    try:
        return parse_rule(document, file=str(path))
    except _Problem as exc:
        raise RuleFileError(
            str(exc), file=str(path), rule_id=rule_id if isinstance(rule_id, str) else None
        ) from exc


def _keys(node: Any, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise _Problem(f"{where} must be a mapping, got {type(node).__name__}")
    unknown = sorted(str(k) for k in node if k not in allowed)
    if unknown:
        raise _Problem(f"unknown field {unknown[0]!r} in {where}")
    return node


def _string(node: Mapping[str, Any], key: str, where: str) -> str:
    value = node.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise _Problem(f"{where}{key} must be a string")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _version(node: Mapping[str, Any]) -> int:
    value = node.get("version", 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Problem(f"version must be an integer, got {value!r}")
    return value


def parse_rule(document: Any, *, file: str = "") -> Rule:
    """A validated :class:`Rule` from a decoded YAML document (``_Problem`` otherwise)."""
    top = _keys(document, _TOP_KEYS, "the rule")
    correlation = _correlation(top.get("correlation"))
    emit = _keys(top.get("emit"), _EMIT_KEYS, "emit")
    taxonomy = top.get("taxonomy") or {}
    if not isinstance(taxonomy, dict):
        raise _Problem("taxonomy must be a mapping of strings")
    rule = Rule(
        id=_string(top, "id", ""),
        version=_version(top),
        title=_string(top, "title", ""),
        description=_string(top, "description", ""),
        severity=_string(top, "severity", ""),
        status=_string(top, "status", ""),
        posture=_string(top, "posture", ""),
        taxonomy={str(k): str(v) for k, v in taxonomy.items()},
        match=_string(top, "match", ""),
        correlation=correlation,
        budget=_budget(top.get("budget")),
        reason=_string(emit, "reason", "emit."),
        tests=_fixtures(top.get("tests")),
        file=file,
    )
    validate(rule, has_budget="budget" in top)
    return rule


def _correlation(node: Any) -> Correlation | None:
    if node is None:
        return None
    body = _keys(node, _CORRELATION_KEYS, "correlation")
    steps_node = body.get("steps") or []
    if not isinstance(steps_node, list):
        raise _Problem("correlation.steps must be a list")
    steps = []
    for index, step in enumerate(steps_node):
        fields = _keys(step, _STEP_KEYS, f"correlation.steps[{index}]")
        steps.append(Step(id=_string(fields, "id", ""), match=_string(fields, "match", "")))
    return Correlation(
        scope=_string(body, "scope", "correlation."),
        window=_string(body, "window", "correlation."),
        steps=tuple(steps),
    )


def _budget(node: Any) -> tuple[BudgetLimit, ...]:
    if node is None:
        return ()
    body = _keys(node, _BUDGET_KEYS, "budget")
    model = body.get("model")
    limits = []
    for metric in BUDGET_METRICS:
        if metric in body:
            limits.append(
                BudgetLimit(
                    metric, budget_value(metric, body[metric]), str(model) if model else None
                )
            )
    if not limits:
        raise _Problem(f"budget sets no limit (one of {', '.join(BUDGET_METRICS)})")
    return tuple(limits)


def budget_value(metric: str, value: Any) -> float:
    """A limit's number; ``duration`` also takes a Go duration (``30m``)."""
    if metric == "duration" and isinstance(value, str):
        try:
            seconds = parse_go_duration(value)
        except ValueError as exc:
            raise _Problem(f"budget duration: {exc}") from exc
    else:
        try:
            seconds = float(value)
        except (TypeError, ValueError) as exc:
            raise _Problem(f"budget {metric} must be a number, got {value!r}") from exc
        if isinstance(value, bool):
            raise _Problem(f"budget {metric} must be a number, got {value!r}")
    if seconds < 0:
        raise _Problem(f"budget {metric} must be >= 0, got {value!r}")
    return seconds


def _plain(value: Any) -> Any:
    """YAML values as the Go loader's YAML -> JSON bridge sees them."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _fixtures(node: Any) -> tuple[Fixture, ...]:
    if node is None:
        return ()
    if not isinstance(node, list):
        raise _Problem("tests must be a list")
    fixtures = []
    for index, item in enumerate(node):
        body = _keys(item, _FIXTURE_KEYS, f"tests[{index}]")
        events = body.get("events") or []
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise _Problem(f"tests[{index}] events must be a list of mappings")
        fixtures.append(
            Fixture(
                name=_string(body, "name", f"tests[{index}]."),
                verdict=_string(body, "verdict", f"tests[{index}]."),
                events=tuple(_plain(e) for e in events),
            )
        )
    return tuple(fixtures)


def validate(rule: Rule, *, has_budget: bool = False) -> None:
    """``Rule.Validate`` of the Go loader, then the CEL of every expression."""
    if not _ID.match(rule.id):
        raise _Problem(f"id {rule.id!r} must match {_ID.pattern}")
    if rule.version < 1:
        raise _Problem(f"version must be >= 1, got {rule.version}")
    if not rule.title:
        raise _Problem("title is required")
    if rule.severity not in SEVERITIES:
        raise _Problem(f"invalid severity {rule.severity!r}")
    if rule.status not in STATUSES:
        raise _Problem(f"invalid status {rule.status!r}")
    if rule.posture not in POSTURES:
        raise _Problem(f"invalid posture {rule.posture!r}")
    if not rule.reason:
        raise _Problem("emit.reason is required")
    if not rule.tests:
        raise _Problem("at least one test fixture is required")
    kinds = [
        k
        for k, present in (
            ("match", bool(rule.match)),
            ("correlation", rule.correlation is not None),
            ("budget", has_budget),
        )
        if present
    ]
    if len(kinds) > 1:
        raise _Problem(
            f"exactly one of match, correlation or budget may be set, got {' and '.join(kinds)}"
        )
    if not kinds:
        raise _Problem("exactly one of match or correlation must be set, neither is present")
    from beacon.rules.cel import compile_expression

    for where, expression in rule.expressions():
        try:
            compile_expression(expression)
        except ValueError as exc:
            raise _Problem(f"{where}: {exc}") from exc
    if rule.correlation is not None:
        _validate_correlation(rule.correlation)
    for index, fixture in enumerate(rule.tests):
        if not fixture.name:
            raise _Problem(f"tests[{index}] missing name")
        if fixture.verdict not in VERDICTS:
            raise _Problem(f"tests[{index}] ({fixture.name}) invalid verdict {fixture.verdict!r}")
        if not fixture.events:
            raise _Problem(f"tests[{index}] ({fixture.name}) requires at least one event")


def _validate_correlation(correlation: Correlation) -> None:
    if correlation.scope != "session":
        raise _Problem(f"correlation.scope {correlation.scope!r} unsupported (only 'session')")
    try:
        window_s = parse_go_duration(correlation.window)
    except ValueError as exc:
        raise _Problem(f"correlation.window {correlation.window!r}: {exc}") from exc
    object.__setattr__(correlation, "window_s", window_s)
    if len(correlation.steps) < 2:
        raise _Problem(f"correlation requires >= 2 steps, got {len(correlation.steps)}")
    for index, step in enumerate(correlation.steps):
        if not step.id:
            raise _Problem(f"correlation.steps[{index}] missing id")
        if not step.match:
            raise _Problem(f"correlation.steps[{index}] ({step.id}) missing match")
