"""The short text form: what ``ci exec`` and ``session stop`` print at the end (3-4 lines)."""

from __future__ import annotations

from beacon.report import fmt
from beacon.report.build import Report


def render_text(report: Report, *, report_path: str | None = None) -> str:
    totals = report.totals
    head = f"beacon report: run {report.session_id or 'unknown'} {report.status.upper()}"
    parts = [f"duration {fmt.duration(report.duration_ms)}"]
    if report.child_exit_code is not None:
        parts.append(f"child exit {report.child_exit_code}")
    verdict = f"validation {report.validation_status}"
    failing = [str(stage["name"]) for stage in report.failing_stages]
    if failing:
        verdict += f" ({', '.join(failing)})"
    parts.append(verdict)
    lines = [f"{head}: " + ", ".join(parts)]
    tokens = totals.tokens
    lines.append(
        f"  cost {fmt.money(totals.cost_usd)}, tokens {fmt.count(tokens['input'])} in / "
        f"{fmt.count(tokens['output'])} out / {fmt.count(tokens['cache_read'])} cache read / "
        f"{fmt.count(tokens['cache_creation'])} cache write; "
        f"{fmt.plural(totals.requests, 'API request')} ({fmt.plural(totals.errors, 'error')}, "
        f"{fmt.plural(totals.retries, 'retry', 'retries')})"
    )
    changed = ""
    if totals.lines_added is not None:
        changed = f" (+{totals.lines_added}/-{totals.lines_removed or 0} lines)"
    lines.append(
        f"  {fmt.plural(len(report.sessions), 'session')}, {fmt.plural(totals.prompts, 'prompt')}, "
        f"{fmt.plural(totals.tool_uses, 'tool use')} ({totals.tool_failures} failed), "
        f"{fmt.plural(totals.command_runs, 'command')}, "
        f"{fmt.plural(len(totals.files_read), 'file')} read, "
        f"{len(totals.files_modified):,} modified{changed}, "
        f"approvals {totals.approvals_allowed} allowed / {totals.approvals_denied} denied"
        + (f", {len(report.findings)} findings" if report.findings else "")
    )
    if report_path:
        lines.append(f"  report: {report_path}")
    return "\n".join(lines)
