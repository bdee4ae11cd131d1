"""Streaming evaluation of compiled rules over runtime lines, with bounded state.

Single-event rules: one finding per matching event (as ``findings.go``), the
log record and the span of one tool call counted once (same
``gen_ai.tool.call.id``). Correlation rules: the ordered-window state machine
of ``correlation.go`` run as a stream. Per session and rule at most one partial
sequence waits at each step (of two at the same step, the one anchored later
always completes whenever the other does, so the other is dropped), and at most
``max_sessions`` sessions are tracked. As in Go, the window is checked when the
final step matches (a property test compares the verdicts with Go's search).
A rule fires once per session, like the Go engine.

beacon's own lines (harness ``beacon``: lifecycle records, the summary) are
not given to match and correlation rules: the child's command line is the CI
job's, not the agent's. Budgets see every line.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from beacon.rules.budgets import Aggregates, budget_findings
from beacon.rules.cel import CompiledExpression, compile_expression
from beacon.rules.fields import event_fields, zero_value
from beacon.rules.findings import Finding, evidence_of
from beacon.rules.model import Rule

MAX_SESSIONS = 1024
MAX_FINDINGS_PER_RULE = 100
LIFECYCLE_HARNESS = "beacon"


def event_time(event: Mapping[str, Any]) -> float | None:
    value = event.get("timestamp")
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _session_of(event: Mapping[str, Any]) -> str:
    session = event.get("session")
    value = session.get("id") if isinstance(session, dict) else None
    return value if isinstance(value, str) else ""


def _action_of(event: Mapping[str, Any]) -> str:
    inner = event.get("event")
    value = inner.get("action") if isinstance(inner, dict) else None
    return value if isinstance(value, str) else ""


def _call_id(event: Mapping[str, Any]) -> str | None:
    node: Any = event
    for part in ("gen_ai", "tool", "call", "id"):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, str) and node else None


class Projection:
    """Builds the CEL value of an event: the fields the rules read, absent ones as zero."""

    def __init__(self, paths: Iterable[tuple[str, ...]]) -> None:
        types = event_fields()
        self.plan: list[tuple[tuple[str, ...], Any, int]] = []
        self.bits: dict[tuple[str, ...], int] = {}
        for bit, parts in enumerate(sorted(set(paths))):
            cel_type = types.get(".".join(parts), "")
            self.plan.append((parts, cel_type, 1 << bit))
            self.bits[parts] = 1 << bit

    def mask(self, paths: Iterable[tuple[str, ...]]) -> int:
        out = 0
        for parts in paths:
            out |= self.bits.get(parts, 0)
        return out

    def build(self, event: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        root: dict[str, Any] = {}
        present = 0
        for parts, cel_type, bit in self.plan:
            node: Any = event
            for part in parts:
                node = node.get(part) if isinstance(node, dict) else None
                if node is None:
                    break
            if node is None:
                node = zero_value(cel_type) if cel_type else {}
            else:
                present |= bit
                if cel_type == "double" and isinstance(node, int) and not isinstance(node, bool):
                    node = float(node)
            target = root
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            if parts:
                target.setdefault(parts[-1], node)
        return root, present


@dataclass
class RuleState:
    rule: Rule
    programs: list[CompiledExpression]
    actions: frozenset[str] | None
    reads: int = 0  # bit mask of the fields this rule reads (event.action aside)
    seen_events: int = 0
    present: int = 0
    errors: int = 0
    first_error: str | None = None
    findings: int = 0
    suppressed: int = 0
    seen_calls: set[tuple[str, str]] = field(default_factory=set)
    # correlation: session -> {next step index: (anchor time, matched events)}
    pending: OrderedDict[str, dict[int, tuple[float | None, list[Mapping[str, Any]]]]] = field(
        default_factory=OrderedDict
    )
    fired_sessions: set[str] = field(default_factory=set)


class RuleEngine:
    """Feed runtime lines in log order, then :meth:`finish` for findings and diagnostics."""

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        max_sessions: int = MAX_SESSIONS,
        max_findings_per_rule: int = MAX_FINDINGS_PER_RULE,
    ) -> None:
        self.max_sessions = max_sessions
        self.max_findings = max_findings_per_rule
        self.event_rules: list[RuleState] = []
        self.budget_rules: list[Rule] = []
        paths: set[tuple[str, ...]] = set()
        for rule in rules:
            if rule.kind == "budget":
                self.budget_rules.append(rule)
                continue
            programs = [compile_expression(text) for _, text in rule.expressions()]
            for program in programs:
                paths.update(program.paths)
            actions = programs[0].actions
            if rule.correlation is not None:
                # An event can matter to any step: the filter is the union, or none.
                step_actions = [p.actions for p in programs]
                actions = (
                    None
                    if any(a is None for a in step_actions)
                    else frozenset().union(*step_actions)  # type: ignore[arg-type]
                )
            self.event_rules.append(RuleState(rule, programs, actions))
        self.projection = Projection(paths)
        for state in self.event_rules:
            read = {p for prog in state.programs for p in prog.paths if p != ("event", "action")}
            state.reads = self.projection.mask(read)
        self.by_action: dict[str, list[RuleState]] = {}
        self.any_action: list[RuleState] = [s for s in self.event_rules if s.actions is None]
        for state in self.event_rules:
            for action in state.actions or ():
                self.by_action.setdefault(action, []).append(state)
        self.aggregates = Aggregates()
        self.findings: list[Finding] = []

    def feed(self, event: Mapping[str, Any]) -> None:
        if self.budget_rules:
            self.aggregates.add(event)
        harness = event.get("harness")
        if isinstance(harness, dict) and harness.get("name") == LIFECYCLE_HARNESS:
            return
        action = _action_of(event)
        candidates = self.by_action.get(action)
        if not candidates and not self.any_action:
            return
        activation, present = self.projection.build(event)
        # " action": not an identifier, so no CEL variable can shadow it.
        value = {"e": activation, " action": action}
        for state in (*(candidates or ()), *self.any_action):
            state.seen_events += 1
            state.present |= present
            if state.rule.correlation is None:
                self._single(state, event, value)
            else:
                self._correlate(state, event, value)

    def _eval(self, state: RuleState, program: CompiledExpression, value: dict[str, Any]) -> bool:
        if program.actions is not None and value[" action"] not in program.actions:
            return False
        try:
            return program.evaluate(value)
        except Exception as exc:
            state.errors += 1
            if state.first_error is None:
                state.first_error = str(exc) or type(exc).__name__
            return False

    def _single(self, state: RuleState, event: Mapping[str, Any], value: dict[str, Any]) -> None:
        if not self._eval(state, state.programs[0], value):
            return
        call = _call_id(event)
        if call:
            key = (_session_of(event), call)
            if key in state.seen_calls:
                return
            state.seen_calls.add(key)
        self._emit(state, [event], _session_of(event))

    def _correlate(self, state: RuleState, event: Mapping[str, Any], value: dict[str, Any]) -> None:
        session = _session_of(event)
        if session in state.fired_sessions:
            return
        correlation = state.rule.correlation
        assert correlation is not None
        final = len(state.programs) - 1
        pending = state.pending.get(session)
        now = event_time(event)
        if pending:
            for step in sorted(pending, reverse=True):
                anchor_time, matched = pending[step]
                if not self._eval(state, state.programs[step], value):
                    continue
                del pending[step]
                if step == final:
                    # correlation.go checks the window here only, and only when both
                    # times are known; a final match outside it abandons the anchor.
                    if (
                        anchor_time is not None
                        and now is not None
                        and now - anchor_time > correlation.window_s
                    ):
                        continue
                    self._emit(state, [*matched, event], session)
                    state.fired_sessions.add(session)
                    state.pending.pop(session, None)
                    return
                self._keep(pending, step + 1, anchor_time, [*matched, event])
        if self._eval(state, state.programs[0], value):
            pending = state.pending.setdefault(session, {})
            state.pending.move_to_end(session)
            self._keep(pending, 1, now, [event])
            while len(state.pending) > self.max_sessions:
                state.pending.popitem(last=False)

    @staticmethod
    def _keep(
        pending: dict[int, tuple[float | None, list[Mapping[str, Any]]]],
        step: int,
        anchor_time: float | None,
        matched: list[Mapping[str, Any]],
    ) -> None:
        held = pending.get(step)
        if held is not None:
            held_time = held[0]
            # An unknown anchor time never expires; otherwise the later anchor wins.
            if held_time is None or (anchor_time is not None and held_time >= anchor_time):
                return
        pending[step] = (anchor_time, matched)

    def _emit(self, state: RuleState, events: list[Mapping[str, Any]], session: str) -> None:
        if state.findings >= self.max_findings:
            state.suppressed += 1
            return
        state.findings += 1
        rule = state.rule
        self.findings.append(
            Finding(
                rule_id=rule.id,
                title=rule.title,
                severity=rule.severity,
                posture=rule.posture,
                session_id=session,
                reason=rule.reason,
                events=[evidence_of(e) for e in events],
                kind=rule.kind,
            )
        )

    def finish(self) -> EngineResult:
        findings = list(self.findings)
        for rule in self.budget_rules:
            findings.extend(budget_findings(rule, self.aggregates))
        errors = [
            {"rule_id": s.rule.id, "error": s.first_error, "events": s.errors}
            for s in self.event_rules
            if s.errors
        ]
        not_applicable = []
        for state in self.event_rules:
            missing = state.reads & ~state.present
            if state.seen_events and missing:
                names = [
                    ".".join(parts) for parts, bit in self.projection.bits.items() if bit & missing
                ]
                not_applicable.append({"rule_id": state.rule.id, "missing_fields": sorted(names)})
        suppressed = {s.rule.id: s.suppressed for s in self.event_rules if s.suppressed}
        return EngineResult(findings, errors, not_applicable, suppressed, self.aggregates)


@dataclass
class EngineResult:
    findings: list[Finding]
    errors: list[dict[str, Any]]
    not_applicable: list[dict[str, Any]]
    suppressed: dict[str, int]
    aggregates: Aggregates
