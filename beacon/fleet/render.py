"""The fleet report as text, markdown, json, csv (one row per run) or a self-contained html page.

The html page follows the run report's rules: one file, inline CSS and SVG, no
scripts and nothing fetched from the network.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from typing import Any

from beacon.fleet.figures import FleetReport

FORMATS = ("text", "markdown", "json", "html", "csv")


def money(value: Any, complete: Any = True) -> str:
    if value is None:
        return "unknown"
    text = f"${float(value):,.4f}"
    return text if complete in (True, None) else text + " (partial)"


def _tokens(row: dict[str, Any]) -> str:
    return f"{row.get('input_tokens') or 0:,} in / {row.get('output_tokens') or 0:,} out"


def render(report: FleetReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, default=str) + "\n"
    if fmt == "csv":
        return render_csv(report.runs)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    return render_text(report)


def render_text(report: FleetReport) -> str:
    t = report.totals
    lines = [
        f"fleet {report.source}: {t['runs']} runs, {t['failed_validation']} failed validation, "
        f"{t['runs_without_result']} without result.json",
        f"cost {money(t.get('cost_usd'), t.get('cost_complete'))}, tokens {_tokens(t)}, "
        f"{t['api_requests']} API requests, {t['api_errors']} API errors",
    ]
    if t.get("torn_logs") or t.get("bad_lines"):
        lines.append(
            f"warning: {t['torn_logs']} logs end in a torn line, "
            f"{t['bad_lines']} lines could not be read"
        )
    for title, rows, key in (
        ("by repository", report.by_repository, "repository"),
        ("by model", report.by_model, "model"),
        ("by harness", report.by_harness, "harness"),
    ):
        if rows:
            lines.append(f"{title}:")
            for row in rows[:10]:
                lines.append(
                    f"  {row[key]}: {row['runs']} runs, "
                    f"{money(row.get('cost_usd'), row.get('cost_complete'))}"
                )
    if report.findings_by_severity:
        counts = ", ".join(f"{r['count']} {r['severity']}" for r in report.findings_by_severity)
        lines.append(f"findings: {counts}")
    return "\n".join(lines) + "\n"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def _group_rows(rows: list[dict[str, Any]], key: str) -> list[list[Any]]:
    return [
        [
            r[key],
            r["runs"],
            r.get("failed_validation", ""),
            money(r.get("cost_usd"), r.get("cost_complete")),
            _tokens(r),
            r.get("api_requests", ""),
            r.get("api_errors", ""),
        ]
        for r in rows
    ]


_GROUP_HEADERS = ("", "runs", "failed validation", "cost", "tokens", "requests", "errors")


def render_markdown(report: FleetReport) -> str:
    t = report.totals
    out = [
        "## beacon fleet report",
        "",
        f"Source `{report.source}`"
        + (f", filters {report.filters}" if report.filters else "")
        + f": **{t['runs']} runs**, {t['failed_validation']} failed validation, cost "
        f"**{money(t.get('cost_usd'), t.get('cost_complete'))}**, tokens {_tokens(t)}.",
        "",
    ]
    for title, rows, key in (
        ("Per repository", report.by_repository, "repository"),
        ("Per workflow", report.by_workflow, "workflow"),
        ("Per week", report.by_week, "week"),
    ):
        if rows:
            out += [f"### {title}", ""]
            out += [*_table((key, *_GROUP_HEADERS[1:]), _group_rows(rows, key)), ""]
    if report.by_model:
        out += ["### Per model", ""]
        out += _table(
            ("model", "runs", "requests", "cost", "tokens"),
            [
                [
                    r["model"],
                    r["runs"],
                    r["api_requests"],
                    money(r.get("cost_usd"), r.get("cost_complete")),
                    _tokens(r),
                ]
                for r in report.by_model
            ],
        )
        out.append("")
    if report.by_harness:
        out += ["### Harnesses", ""]
        out += _table(
            ("harness", "runs", "requests", "errors", "error rate", "cost"),
            [
                [
                    r["harness"],
                    r["runs"],
                    r["api_requests"],
                    r["api_errors"],
                    f"{100 * float(r['error_rate']):.1f}%",
                    money(r.get("cost_usd")),
                ]
                for r in report.by_harness
            ],
        )
        out.append("")
    if report.most_expensive_runs:
        out += ["### Most expensive runs", ""]
        out += _table(
            ("run", "repository", "workflow", "cost", "tokens", "validation"),
            [
                [
                    f"[{r['session_id']}]({r['link']})" if r.get("link") else r["session_id"],
                    r.get("repository") or "",
                    r.get("workflow") or "",
                    money(r["cost_usd"]),
                    r.get("tokens") or 0,
                    r.get("validation_status") or "unknown",
                ]
                for r in report.most_expensive_runs
            ],
        )
        out.append("")
    if report.findings_by_rule:
        out += ["### Policy findings", ""]
        out += _table(
            ("rule", "severity", "findings", "runs"),
            [[r["rule_id"], r["severity"], r["count"], r["runs"]] for r in report.findings_by_rule],
        )
        out.append("")
    for title, rows, key in (
        ("Top commands", report.top_commands, "command"),
        ("Most modified files", report.top_files, "path"),
    ):
        if rows:
            out += [f"<details><summary>{title}</summary>", ""]
            out += _table(
                (key, "count", "runs"), [[f"`{r[key]}`", r["count"], r["runs"]] for r in rows]
            )
            out += ["", "</details>", ""]
    return "\n".join(out) + "\n"


def render_csv(runs: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if not runs:
        return ""
    writer = csv.DictWriter(buffer, fieldnames=list(runs[0].keys()), lineterminator="\n")
    writer.writeheader()
    for run in runs:
        writer.writerow(
            {
                k: ";".join(v) if isinstance(v, list) else ("" if v is None else v)
                for k, v in run.items()
            }
        )
    return buffer.getvalue()


_CSS = (
    "body{font:14px system-ui,sans-serif;margin:24px;color:#222}"
    "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;"
    "padding:4px 8px;text-align:left}th{background:#f3f3f3}.n{text-align:right}"
    "h1{font-size:20px}h2{font-size:16px;margin-top:24px}.bar{fill:#4a7bd0}"
)


def _bar_chart(rows: list[dict[str, Any]], label: str, value: str, title: str) -> str:
    data = [(str(r[label]), float(r[value])) for r in rows if r.get(value) is not None][:15]
    if not data:
        return ""
    top = max(v for _, v in data) or 1.0
    height = 22 * len(data) + 10
    bars = []
    for i, (name, v) in enumerate(data):
        width = 400 * v / top
        y = 5 + 22 * i
        bars.append(
            f'<text x="0" y="{y + 14}" font-size="12">{html.escape(name[:40])}</text>'
            f'<rect class="bar" x="260" y="{y}" width="{width:.1f}" height="16"/>'
            f'<text x="{265 + width:.1f}" y="{y + 13}" font-size="11" '
            f'data-value="{v}">{v:,.4f}</text>'
        )
    return (
        f'<h2>{html.escape(title)}</h2><svg role="img" width="760" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>'
    )


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: FleetReport) -> str:
    t = report.totals
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>beacon fleet report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>beacon fleet report</h1>",
        f"<p>Source {html.escape(report.source)}: <b id='runs'>{t['runs']}</b> runs, "
        f"<b id='failed'>{t['failed_validation']}</b> failed validation, cost "
        f"<b id='cost'>{html.escape(money(t.get('cost_usd'), t.get('cost_complete')))}</b>, "
        f"tokens {html.escape(_tokens(t))}.</p>",
        _bar_chart(report.by_repository, "repository", "cost_usd", "Cost per repository (USD)"),
        _bar_chart(report.by_model, "model", "cost_usd", "Cost per model (USD)"),
        _bar_chart(report.by_day, "day", "cost_usd", "Cost per day (USD)"),
    ]
    for title, rows, key in (
        ("Per repository", report.by_repository, "repository"),
        ("Per workflow", report.by_workflow, "workflow"),
        ("Per week", report.by_week, "week"),
    ):
        if rows:
            parts += [
                f"<h2>{title}</h2>",
                _html_table((key, *_GROUP_HEADERS[1:]), _group_rows(rows, key)),
            ]
    if report.by_harness:
        parts += [
            "<h2>Harnesses</h2>",
            _html_table(
                ("harness", "runs", "requests", "errors", "cost"),
                [
                    [
                        r["harness"],
                        r["runs"],
                        r["api_requests"],
                        r["api_errors"],
                        money(r["cost_usd"]),
                    ]
                    for r in report.by_harness
                ],
            ),
        ]
    if report.findings_by_rule:
        parts += [
            "<h2>Policy findings</h2>",
            _html_table(
                ("rule", "severity", "findings", "runs"),
                [
                    [r["rule_id"], r["severity"], r["count"], r["runs"]]
                    for r in report.findings_by_rule
                ],
            ),
        ]
    if report.top_commands:
        parts += [
            "<h2>Top commands</h2>",
            _html_table(
                ("command", "count", "runs"),
                [[r["command"], r["count"], r["runs"]] for r in report.top_commands],
            ),
        ]
    if report.top_files:
        parts += [
            "<h2>Most modified files</h2>",
            _html_table(
                ("path", "count", "runs"),
                [[r["path"], r["count"], r["runs"]] for r in report.top_files],
            ),
        ]
    parts.append("</body></html>\n")
    return "".join(parts)
