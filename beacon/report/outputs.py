"""The step outputs of a run for ``$GITHUB_OUTPUT`` (pure): names as the Action declares them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beacon.report.build import Report

OUTPUT_NAMES = (
    "log-path",
    "result-path",
    "report-path",
    "event-count",
    "status",
    "session-id",
    "exit-code",
    "cost-usd",
)


def step_outputs(
    report: Report,
    *,
    log_path: str,
    result_path: str | None,
    report_path: str | None,
) -> dict[str, str]:
    """Every output as a string; an unknown value is the empty string (cost: never "0")."""
    result: Mapping[str, Any] = report.result or {}
    events = result.get("events_written")
    if not isinstance(events, int):
        events = report.facts.lines
    cost = report.totals.cost_usd
    exit_code = report.exit_code
    return {
        "log-path": log_path,
        "result-path": result_path or "",
        "report-path": report_path or "",
        "event-count": str(events),
        "status": report.status,
        "session-id": report.session_id or "",
        "exit-code": "" if exit_code is None else str(exit_code),
        "cost-usd": "" if cost is None else f"{cost:.9f}".rstrip("0").rstrip(".") or "0",
    }
