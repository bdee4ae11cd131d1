"""Human-readable rendering of a validation result (the CLI prints it)."""

from __future__ import annotations

from beacon.pipeline.validate import ValidationResult

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def render_validation(result: ValidationResult) -> str:
    """A few lines: overall status, one line per stage, then the action counts."""
    lines = [
        f"beacon validation: {result.status.upper()} "
        f"({result.event_count} matching events, run {result.session_id or 'unknown'})",
        f"  log: {result.log_path}",
    ]
    for stage in result.stages:
        lines.append(f"  [{_MARK[stage.status]}] {stage.name}: {stage.message}")
    if result.actions:
        counts = ", ".join(f"{action}={n}" for action, n in result.actions.items())
        lines.append(f"  actions: {counts}")
    return "\n".join(lines)
