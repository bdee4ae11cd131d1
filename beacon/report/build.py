"""One run's report: the figures of the whole run, per harness and per Claude session.

:func:`build_report` is pure (lines and the result object in, :class:`Report` out);
:func:`load_report` reads ``runtime.jsonl`` and the ``result.json`` beside it, so the
report also works on a downloaded artifact. The JSON shape (:meth:`Report.to_dict`)
is documented in docs/report.md and versioned by ``report_version``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from beacon.report.facts import Origin, RunFacts, collect, split
from beacon.report.figures import MAX_ITEMS, Figures, compute

REPORT_VERSION = "1"
RESULT_NAME = "result.json"


def iso(ms: float | None) -> str | None:
    if ms is None:
        return None
    try:
        moment = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Group:
    """The figures of one harness or one Claude session."""

    key: str
    harness: str
    figures: Figures
    versions: list[str] = field(default_factory=list)
    first_ms: float | None = None
    last_ms: float | None = None


@dataclass
class Report:
    facts: RunFacts
    result: Mapping[str, Any] | None
    totals: Figures
    harnesses: list[Group]
    sessions: list[Group]
    log_path: str | None = None

    @property
    def session_id(self) -> str | None:
        return self.facts.session_id

    @property
    def child_exit_code(self) -> int | None:
        if self.result is not None and "child_exit_code" in self.result:
            code = self.result.get("child_exit_code")
            return code if isinstance(code, int) else None
        return self.facts.child_exit_code

    @property
    def exit_code(self) -> int | None:
        code = self.result.get("exit_code") if self.result is not None else None
        return code if isinstance(code, int) and not isinstance(code, bool) else None

    @property
    def validation(self) -> Mapping[str, Any] | None:
        validation = self.result.get("validation") if self.result is not None else None
        return validation if isinstance(validation, Mapping) else None

    @property
    def validation_status(self) -> str:
        status = self.validation.get("status") if self.validation is not None else None
        return status if isinstance(status, str) else "unknown"

    @property
    def failing_stages(self) -> list[dict[str, Any]]:
        stages = self.validation.get("stages", []) if self.validation is not None else []
        return [
            {"name": s.get("name"), "status": s.get("status"), "message": s.get("message")}
            for s in stages
            if isinstance(s, Mapping) and s.get("status") != "ok"
        ]

    @property
    def status(self) -> str:
        """ok / warn / fail: the run failed when beacon's exit code is not 0."""
        if self.exit_code not in (None, 0):
            return "fail"
        return self.validation_status

    @property
    def duration_ms(self) -> int | None:
        facts = self.facts
        if facts.child_duration_ms is not None:
            return facts.child_duration_ms
        start, end = facts.collector_started_ms, facts.collector_stopped_ms
        if start is None or end is None:
            start, end = facts.first_ms, facts.last_ms
        return None if start is None or end is None else round(end - start)

    @property
    def findings(self) -> list[Any]:
        findings = self.result.get("findings") if self.result is not None else None
        return list(findings) if isinstance(findings, list) else []

    def to_dict(self) -> dict[str, Any]:
        result = self.result or {}
        facts = self.facts
        findings = self.findings
        return {
            "report_version": REPORT_VERSION,
            "run": {
                "session_id": self.session_id,
                "log_path": self.log_path,
                "started_at": iso(facts.collector_started_ms or facts.first_ms),
                "ended_at": iso(facts.collector_stopped_ms or facts.last_ms),
                "duration_ms": self.duration_ms,
                "command": facts.child_command,
                "child_exit_code": self.child_exit_code,
                "exit_code": self.exit_code,
                "timed_out": bool(result.get("timed_out", False)),
                "status": self.status,
                "validation": {
                    "status": self.validation_status,
                    "event_count": (self.validation or {}).get("event_count"),
                    "failing_stages": self.failing_stages,
                },
                "events": {"lines": facts.lines, "by_action": dict(sorted(facts.actions.items()))},
                "warnings": list(result.get("warnings") or []),
            },
            "totals": self.totals.to_dict(),
            "harnesses": [
                {"name": group.key, "versions": group.versions, **group.figures.to_dict()}
                for group in self.harnesses
            ],
            "sessions": [
                {
                    "id": group.key,
                    "harness": group.harness,
                    "started_at": iso(group.first_ms),
                    "ended_at": iso(group.last_ms),
                    **group.figures.to_dict(),
                }
                for group in self.sessions
            ],
            "findings": {
                "summary": result.get("findings_summary"),
                "count": len(findings),
                "items": findings[:MAX_ITEMS],
                "omitted": max(0, len(findings) - MAX_ITEMS),
            },
            "uploads": list(result.get("uploads") or []),
        }


def finding_row(finding: Any) -> tuple[str, str, str]:
    """(severity, rule, what) of a finding from result.json (the rules stage's shape:
    ``rule_id``, ``title``, ``severity``, ``reason``, ``session_id``, ...)."""
    if not isinstance(finding, Mapping):
        return "", "", str(finding)
    rule = finding.get("rule_id") or finding.get("rule") or finding.get("id") or ""
    title = finding.get("title") or finding.get("message") or ""
    reason = finding.get("reason") or finding.get("description") or ""
    what = ": ".join(str(part) for part in (title, reason) if part)
    session = finding.get("session_id")
    if session:
        what += f" (session {session})"
    return str(finding.get("severity") or ""), str(rule), what


def build_report(
    lines: Iterable[Mapping[str, Any]],
    *,
    session_id: str | None = None,
    result: Mapping[str, Any] | None = None,
    log_path: str | None = None,
) -> Report:
    """The report of run ``session_id`` (None: the most recent in ``lines``).

    ``result`` (the run's result object) is used only when it belongs to that run.
    """
    facts = collect(lines, session_id)
    if result is not None and result.get("session_id") not in (None, facts.session_id):
        result = None
    by_harness = split(facts, lambda origin: origin.harness)
    by_session = split(facts, lambda origin: origin.session)
    harnesses = [
        Group(
            key=name,
            harness=name,
            figures=compute(by_harness[name], _everything),
            versions=sorted(facts.harness_versions.get(name, ())),
        )
        for name in sorted(set(by_harness) - {"beacon"})
    ]
    sessions = [
        Group(
            key=session,
            harness=harness,
            figures=compute(by_session[session], _everything),
            first_ms=first,
            last_ms=last,
        )
        for session, (harness, first, last) in _session_spans(facts).items()
    ]
    return Report(
        facts=facts,
        result=result,
        totals=compute(facts, _everything),
        harnesses=harnesses,
        sessions=sessions,
        log_path=log_path,
    )


def _everything(origin: Origin) -> bool:
    return True


def _session_spans(facts: RunFacts) -> dict[str, tuple[str, float | None, float | None]]:
    """Claude session id -> (harness, first, last timestamp), in order of first appearance."""
    spans: dict[str, tuple[str, float | None, float | None]] = {}

    def see(origin: Origin, at_ms: float | None) -> None:
        if origin.session is None:
            return
        harness, first, last = spans.get(origin.session, (origin.harness, None, None))
        if at_ms is not None:
            first = at_ms if first is None else min(first, at_ms)
            last = at_ms if last is None else max(last, at_ms)
        spans[origin.session] = (harness, first, last)

    for prompt in facts.prompts:
        see(prompt.origin, prompt.at_ms)
    for request in facts.requests:
        see(request.origin, request.at_ms)
    for use in facts.tools.values():
        see(use.origin, use.start_ms)
    for error in facts.errors:
        see(error.origin, error.at_ms)
    for point in facts.metrics:
        see(point.origin, point.at_ms)
    for approval in facts.approvals:
        see(approval.origin, None)
    return dict(sorted(spans.items(), key=lambda item: (item[1][1] is None, item[1][1] or 0)))


def read_lines(
    log_path: Path, *, containing: str | None = None, start: int = 0
) -> Iterator[dict[str, Any]]:
    """The JSON object lines of ``log_path`` from byte ``start``; bad lines are skipped.

    ``containing``: skip, unparsed, the lines without this text (another run's lines
    in an appended log are never decoded).
    """
    needle = containing.encode() if containing else b""
    with log_path.open("rb") as handle:
        if start:
            handle.seek(start)
        for raw in handle:
            if not raw.strip() or needle not in raw:
                continue
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(line, dict):
                yield line


def read_result(path: Path) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def load_report(
    log_path: Path,
    *,
    session_id: str | None = None,
    result: Mapping[str, Any] | None = None,
    start: int = 0,
) -> Report:
    """The report of a log file; ``result`` defaults to the ``result.json`` beside it.

    ``start``: the byte offset where the run's lines begin (the log's size before the
    pipeline appended them), so a long appended log is not read again.
    """
    if result is None:
        result = read_result(log_path.parent / RESULT_NAME)
    return build_report(
        read_lines(log_path, containing=session_id, start=start),
        session_id=session_id,
        result=result,
        log_path=str(log_path),
    )
