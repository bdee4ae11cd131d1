"""GitHub-flavoured markdown: the job summary ($GITHUB_STEP_SUMMARY) and report.md.

Tables for the figures, ``<details>`` for long lists. GitHub refuses a step summary
over 1 MiB, so :func:`render_markdown` fits the text into ``max_bytes``: long lists
are shortened first (first N, then "and M more"), and only as a last resort is the
text cut at a line boundary with a note.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from beacon.report import fmt
from beacon.report.build import Group, Report, finding_row
from beacon.report.facts import TOKEN_KINDS
from beacon.report.figures import Figures

GITHUB_SUMMARY_LIMIT = 1024 * 1024
DEFAULT_MAX_BYTES = 512 * 1024
#: (list items shown, table rows shown) tried in turn until the text fits.
_LIMITS = ((50, 100), (20, 30), (5, 10), (0, 3))
_CELL_CHARS = 200
_MARK = {"ok": "✅", "warn": "⚠️", "fail": "❌"}
_CUT_NOTE = "\n\n*(summary cut to fit the size limit; the full report is report.md)*\n"


def render_markdown(report: Report, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    text = ""
    for items, rows in _LIMITS:
        text = "\n".join(_document(report, items=items, rows=rows)) + "\n"
        if len(text.encode()) <= max_bytes:
            return text
    return _cut(text, max_bytes)


def _cut(text: str, max_bytes: int) -> str:
    budget = max(0, max_bytes - len(_CUT_NOTE.encode()))
    head = text.encode()[:budget].decode(errors="ignore")
    head = head[: head.rfind("\n") + 1] if "\n" in head else ""
    return head + _CUT_NOTE if len((head + _CUT_NOTE).encode()) <= max_bytes else ""


#: Markdown syntax in agent-made text (commands, prompts, paths) is shown, never rendered:
#: ``![x](https://…)`` in a prompt must not become an image GitHub fetches.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]()!#+\-.|~{}=^$:])")


def cell(value: object, limit: int = _CELL_CHARS) -> str:
    """Text from the run as one line of literal text: markdown and HTML escaped."""
    text = _MARKDOWN_PUNCTUATION.sub(r"\\\1", fmt.clip(str(value), limit))
    return html.escape(text, quote=False)


def code(value: object, limit: int = _CELL_CHARS) -> str:
    return f"<code>{cell(value, limit)}</code>"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def details(summary: str, body: list[str]) -> list[str]:
    return [f"<details><summary>{html.escape(summary)}</summary>", "", *body, "</details>", ""]


def more(total: int, shown: int, what: str) -> list[str]:
    return [f"… and {total - shown:,} more {what}", ""] if total > shown else []


def _tokens(figures: Figures) -> str:
    t = figures.tokens
    return " / ".join(fmt.count(t[k]) for k in TOKEN_KINDS)


def _document(report: Report, *, items: int, rows: int) -> list[str]:
    totals = report.totals
    status = report.status
    out = [f"### {_MARK.get(status, '❔')} beacon run report: {status}", ""]
    api = (
        f"{fmt.count(totals.requests)} ({fmt.plural(totals.errors, 'error')}, "
        f"{fmt.plural(totals.retries, 'retry', 'retries')})"
    )
    out += table(
        [
            "run",
            "duration",
            "child exit",
            "validation",
            "cost",
            "tokens in / out / cache read / cache write",
            "API requests",
        ],
        [
            [
                code(report.session_id or "unknown"),
                fmt.duration(report.duration_ms),
                "—" if report.child_exit_code is None else report.child_exit_code,
                report.validation_status,
                fmt.money(totals.cost_usd),
                _tokens(totals),
                api,
            ]
        ],
    )
    for stage in report.failing_stages:
        out.append(f"- **{cell(stage['name'])}** ({stage['status']}): {cell(stage['message'])}")
    if report.failing_stages:
        out.append("")
    out += _models(totals)
    out += _activity(report, totals)
    out += _tools(totals, rows)
    out += _lists(totals, items)
    if len(report.harnesses) > 1:
        out += _groups("Harnesses", "harness", report.harnesses, rows)
    if len(report.sessions) > 1:
        out += _groups("Claude sessions", "session", report.sessions, rows)
    out += _redactions(totals)
    out += _findings(report.findings, rows)
    return out


def _models(totals: Figures) -> list[str]:
    if not totals.models:
        return []
    body = [
        [
            code(m.model),
            fmt.count(m.requests),
            fmt.count(m.tokens["input"]),
            fmt.count(m.tokens["output"]),
            fmt.count(m.tokens["cache_read"]),
            fmt.count(m.tokens["cache_creation"]),
            fmt.money(m.cost_usd),
        ]
        for m in totals.models
    ]
    out = ["#### Models", ""]
    out += table(
        ["model", "requests", "input", "output", "cache read", "cache write", "cost"], body
    )
    agrees = totals.metrics_agree
    if agrees is False:
        out += [
            f"⚠️ The metrics disagree: cost {fmt.money(totals.metrics_cost_usd)}, "
            f"tokens {_metric_tokens(totals.metrics_tokens)}.",
            "",
        ]
    return out


def _metric_tokens(tokens: Mapping[str, int] | None) -> str:
    if tokens is None:
        return fmt.UNKNOWN
    return " / ".join(fmt.count(tokens[k]) for k in TOKEN_KINDS)


def _activity(report: Report, totals: Figures) -> list[str]:
    lines = fmt.UNKNOWN
    if totals.lines_added is not None:
        lines = f"+{totals.lines_added:,} / -{totals.lines_removed or 0:,}"
    out = ["#### Activity", ""]
    return out + table(
        [
            "sessions",
            "prompts",
            "tool uses",
            "failed",
            "commands",
            "files read",
            "files modified",
            "lines",
            "approvals allowed / denied",
        ],
        [
            [
                len(report.sessions),
                fmt.count(totals.prompts),
                fmt.count(totals.tool_uses),
                fmt.count(totals.tool_failures),
                fmt.count(totals.command_runs),
                fmt.count(len(totals.files_read)),
                fmt.count(len(totals.files_modified)),
                lines,
                f"{totals.approvals_allowed:,} / {totals.approvals_denied:,}",
            ]
        ],
    )


def _tools(totals: Figures, rows: int) -> list[str]:
    if not totals.tools:
        return []
    body = [
        [
            code(t.name),
            fmt.count(t.count),
            fmt.count(t.failures),
            fmt.duration(t.duration_ms),
            fmt.duration(t.max_duration_ms),
        ]
        for t in totals.tools[:rows]
    ]
    out = ["#### Tools", ""]
    out += table(["tool", "uses", "failed", "total time", "longest"], body)
    return out + more(len(totals.tools), min(rows, len(totals.tools)), "tools")


def _lists(totals: Figures, items: int) -> list[str]:
    out: list[str] = []
    if totals.commands:
        shown = totals.commands[:items]
        body = (
            table(
                ["#", "command", "runs", "failed"],
                [
                    [i + 1, code(c["command"]), c["count"], c["failures"]]
                    for i, c in enumerate(shown)
                ],
            )
            if shown
            else []
        )
        out += details(
            f"Commands: {fmt.plural(totals.command_runs, 'run')}, "
            f"{len(totals.commands):,} distinct",
            body + more(len(totals.commands), len(shown), "commands"),
        )
    if totals.files_read or totals.files_modified:
        body = []
        for title, listing in (("modified", totals.files_modified), ("read", totals.files_read)):
            shown = listing[:items]
            if shown:
                body += table(
                    [f"file {title}", "times"], [[code(f["path"]), f["count"]] for f in shown]
                )
            body += more(len(listing), len(shown), f"files {title}")
        out += details(
            f"Files: {len(totals.files_read):,} read, {len(totals.files_modified):,} modified",
            body,
        )
    if totals.prompts:
        texts = totals.prompt_texts[:items]
        body = [f"{i + 1}. {cell(text, 500)}" for i, text in enumerate(texts)]
        if not totals.prompt_texts:
            body = ["(prompt text was not captured)"]
        out += details(
            f"Prompts: {totals.prompts:,}",
            [*body, "", *more(len(totals.prompt_texts), len(texts), "prompts")],
        )
    return out


def _groups(title: str, kind: str, groups: list[Group], rows: int) -> list[str]:
    body = []
    for group in groups[:rows]:
        f = group.figures
        body.append(
            [
                code(group.key, 60),
                code(group.harness, 40) if kind == "session" else fmt.count(len(group.versions)),
                fmt.count(f.prompts),
                fmt.count(f.requests),
                fmt.money(f.cost_usd),
                _tokens(f),
                fmt.count(f.tool_uses),
                fmt.count(f.command_runs),
                fmt.count(len(f.files_modified)),
            ]
        )
    header = [
        kind,
        "harness" if kind == "session" else "versions",
        "prompts",
        "requests",
        "cost",
        "tokens in / out / cache read / cache write",
        "tool uses",
        "commands",
        "files modified",
    ]
    out = [f"#### {title}", "", *table(header, body)]
    return out + more(len(groups), min(rows, len(groups)), f"{kind}s")


def _redactions(totals: Figures) -> list[str]:
    if not totals.redactions:
        return []
    body = [[code(family), fmt.count(n)] for family, n in sorted(totals.redactions.items())]
    return ["#### Redactions", "", *table(["family", "secrets replaced"], body)]


def _findings(findings: list[Any], rows: int) -> list[str]:
    if not findings:
        return []
    body = []
    for finding in findings[:rows]:
        severity, rule, what = finding_row(finding)
        body.append([cell(severity), code(rule) if rule else "", cell(what, 400)])
    by_severity: dict[str, int] = {}
    for finding in findings:
        severity = finding_row(finding)[0] or "unknown"
        by_severity[severity] = by_severity.get(severity, 0) + 1
    counts = ", ".join(f"{n:,} {cell(severity, 20)}" for severity, n in by_severity.items())
    out = [f"#### Findings ({len(findings):,}: {counts})", ""]
    out += table(["severity", "rule", "finding"], body)
    return out + more(len(findings), min(rows, len(findings)), "findings")
