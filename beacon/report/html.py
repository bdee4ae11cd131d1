"""report.html: one self-contained file (inline CSS and SVG, no scripts, no external assets).

Every figure that also is in report.json carries ``data-figure="<path in report.json>"``
so a test (or a reader's tool) can check the page against the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from beacon.report import fmt
from beacon.report.build import Group, Report, finding_row
from beacon.report.facts import TOKEN_KINDS, RunFacts
from beacon.report.figures import Figures
from beacon.report.svg import Mark, bar_chart, timeline

MAX_MARKS = 4000
MAX_TIMELINE_ROWS = 12
MAX_TABLE_ROWS = 500
OTHER_ROW = "other sessions"
RUN_ROW = "run"

CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;
 margin:0;background:#f6f8fa}
main{max-width:1060px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.ok{background:#1a7f37}.warn{background:#9a6700}.fail{background:#cf222e}.unknown{background:#57606a}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{color:#57606a;font-size:12px}
table{border-collapse:collapse;background:#fff;width:100%;margin:6px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.muted{color:#57606a}svg{background:#fff;border:1px solid #d0d7de;border-radius:6px}
svg text{font:11px sans-serif;fill:#1f2328}svg .lane{text-anchor:end}
svg .tick{text-anchor:middle;fill:#57606a}svg .grid{stroke:#eaeef2}svg .row{font-weight:600}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""


def _num(path: str, text: str) -> str:
    return f'<span data-figure="{escape(path)}">{escape(text)}</span>'


def _card(path: str, value: str, label: str) -> str:
    figure = f'<b data-figure="{escape(path)}">{escape(value)}</b>'
    return f'<div class="card">{figure}<span>{escape(label)}</span></div>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: object, *, numeric: bool = False, path: str | None = None) -> str:
    cls = ' class="n"' if numeric else ""
    attr = f' data-figure="{escape(path)}"' if path else ""
    return f"<td{cls}{attr}>{escape(str(text))}</td>"


def _code(text: object, limit: int = 400) -> str:
    return f"<td><code>{escape(fmt.clip(str(text), limit))}</code></td>"


def render_html(report: Report) -> str:
    status = report.status
    title = f"beacon run report: {report.session_id or 'unknown'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>",
        f'<h1>beacon run report <span class="badge {escape(status)}">{escape(status)}</span></h1>',
        _run_line(report),
        _cards(report.totals, "totals", len(report.sessions)),
        "<h2>Timeline</h2>",
        _legend(),
        timeline(*_marks(report.facts)),
        _charts("Tokens and cost per model", _model_rows(report.totals)),
    ]
    if len(report.sessions) > 1:
        parts.append(_charts("Tokens and cost per session", _group_rows(report.sessions)))
    parts += _tables(report)
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _run_line(report: Report) -> str:
    facts = []
    facts.append(f"run <code>{escape(report.session_id or 'unknown')}</code>")
    facts.append(f"duration {escape(fmt.duration(report.duration_ms))}")
    if report.child_exit_code is not None:
        facts.append("child exit " + _num("run.child_exit_code", str(report.child_exit_code)))
    facts.append(f"validation <b>{escape(report.validation_status)}</b>")
    line = '<p class="muted">' + " · ".join(facts) + "</p>"
    stages = "".join(
        f"<li><b>{escape(str(s['name']))}</b> ({escape(str(s['status']))}): "
        f"{escape(str(s['message']))}</li>"
        for s in report.failing_stages
    )
    return line + (f"<ul>{stages}</ul>" if stages else "")


def _cards(f: Figures, prefix: str, sessions: int) -> str:
    lines = (
        fmt.UNKNOWN if f.lines_added is None else f"+{f.lines_added:,} / -{f.lines_removed or 0:,}"
    )
    cards = [
        _card(f"{prefix}.cost_usd", fmt.money(f.cost_usd), "cost"),
        _card(f"{prefix}.tokens.input", fmt.count(f.tokens["input"]), "input tokens"),
        _card(f"{prefix}.tokens.output", fmt.count(f.tokens["output"]), "output tokens"),
        _card(f"{prefix}.tokens.cache_read", fmt.count(f.tokens["cache_read"]), "cache read"),
        _card(
            f"{prefix}.tokens.cache_creation", fmt.count(f.tokens["cache_creation"]), "cache write"
        ),
        _card(f"{prefix}.api.requests", fmt.count(f.requests), "API requests"),
        _card(f"{prefix}.api.errors", fmt.count(f.errors), "API errors"),
        _card(f"{prefix}.api.retries", fmt.count(f.retries), "retries"),
        _card(f"{prefix}.prompts.count", fmt.count(f.prompts), "prompts"),
        _card(f"{prefix}.tools.uses", fmt.count(f.tool_uses), "tool uses"),
        _card(f"{prefix}.tools.failures", fmt.count(f.tool_failures), "tool failures"),
        _card(f"{prefix}.commands.runs", fmt.count(f.command_runs), "commands"),
        _card(f"{prefix}.files.read.count", fmt.count(len(f.files_read)), "files read"),
        _card(f"{prefix}.files.modified.count", fmt.count(len(f.files_modified)), "files modified"),
        f'<div class="card"><b>{escape(lines)}</b><span>lines added / removed</span></div>',
        _card(f"{prefix}.approvals.allowed", fmt.count(f.approvals_allowed), "approvals allowed"),
        _card(f"{prefix}.approvals.denied", fmt.count(f.approvals_denied), "approvals denied"),
        f'<div class="card"><b>{sessions:,}</b><span>Claude sessions</span></div>',
    ]
    return '<div class="cards">' + "".join(cards) + "</div>"


def _legend() -> str:
    from beacon.report.svg import COLORS, LANE_TITLES, LANES

    items = "".join(
        f'<span><i style="background:{COLORS[lane]}"></i>{LANE_TITLES[lane]}</span>'
        for lane in LANES
    )
    return f'<p class="legend muted">{items}</p>'


def _marks(facts: RunFacts) -> tuple[list[Mark], list[str]]:
    sessions: dict[str, int] = {}  # in order of first mark
    marks: list[Mark] = []

    def row(session: str | None) -> str:
        if session is None:
            return RUN_ROW
        index = sessions.setdefault(session, len(sessions))
        return session if index < MAX_TIMELINE_ROWS else OTHER_ROW

    for prompt in facts.prompts:
        if prompt.at_ms is not None:
            label = "prompt" + (f": {prompt.text}" if prompt.text else "")
            marks.append(Mark("prompt", row(prompt.origin.session), prompt.at_ms, 0.0, label))
    for call in facts.model_calls.values():
        label = f"{call.model}: {fmt.duration(call.duration_ms)}" + (
            " (failed)" if call.failed else ""
        )
        marks.append(
            Mark("model", row(call.origin.session), call.start_ms, call.duration_ms, label)
        )
    for use in facts.tools.values():
        if use.start_ms is None:
            continue
        lane = "command" if use.command else "tool"
        label = use.command or (f"{use.name} {use.path}" if use.path else use.name)
        label += f" ({fmt.duration(use.duration_ms)})" + (" failed" if use.failed else "")
        marks.append(
            Mark(lane, row(use.origin.session), use.start_ms, float(use.duration_ms or 0), label)
        )
    for error in facts.errors:
        if error.at_ms is not None:
            label = f"{error.kind}: {error.error_type or ''} {error.status_code or ''}"
            marks.append(Mark("error", row(error.origin.session), error.at_ms, 0.0, label))
    marks.sort(key=lambda mark: mark.start_ms)
    marks = marks[:MAX_MARKS]
    used = {mark.row for mark in marks}
    shown = list(sessions)[:MAX_TIMELINE_ROWS]
    ordered = [r for r in [RUN_ROW, *shown, OTHER_ROW] if r in used]
    return marks, ordered


def _model_rows(f: Figures) -> list[tuple[str, Figures | Any]]:
    return [(m.model, m) for m in f.models]


def _group_rows(groups: list[Group]) -> list[tuple[str, Any]]:
    return [(g.key, g.figures) for g in groups[:40]]


def _charts(title: str, rows: list[tuple[str, Any]]) -> str:
    token_rows = [
        (
            label,
            [(k, float(item.tokens[k])) for k in TOKEN_KINDS],
        )
        for label, item in rows
    ]
    cost_rows = [
        (label, [("cost", float(item.cost_usd))])
        for label, item in rows
        if item.cost_usd is not None
    ]
    unknown = [label for label, item in rows if item.cost_usd is None]
    note = (
        f'<p class="muted">cost unknown (not reported by the harness) for: '
        f"{escape(', '.join(unknown))}</p>"
        if unknown
        else ""
    )
    return (
        f"<h2>{escape(title)}</h2>"
        '<p class="legend muted"><span><i style="background:#0969da"></i>input</span>'
        '<span><i style="background:#1a7f37"></i>output</span>'
        '<span><i style="background:#8c959f"></i>cache read</span>'
        '<span><i style="background:#bf8700"></i>cache write</span></p>'
        + bar_chart(token_rows, value_label="tokens")
        + "<p></p>"
        + bar_chart(cost_rows, value_label="cost in USD", money=True)
        + note
    )


def _tables(report: Report) -> list[str]:
    f = report.totals
    out = [*_model_section(f), *_tool_section(f)]
    if len(report.sessions) > 1:
        out += _group_table("Claude sessions", "sessions", report.sessions)
    if len(report.harnesses) > 1:
        out += _group_table("Harnesses", "harnesses", report.harnesses)
    return [*out, *_list_sections(f), *_redaction_section(f), *_finding_section(report)]


def _model_section(f: Figures) -> list[str]:
    if not f.models:
        return []
    rows = []
    for i, m in enumerate(f.models):
        p = f"totals.models.{i}"
        rows.append(
            [
                _code(m.model),
                _code(", ".join(m.names)),
                _td(fmt.count(m.requests), numeric=True, path=f"{p}.requests"),
                *(
                    _td(fmt.count(m.tokens[k]), numeric=True, path=f"{p}.tokens.{k}")
                    for k in TOKEN_KINDS
                ),
                _td(fmt.money(m.cost_usd), numeric=True, path=f"{p}.cost_usd"),
            ]
        )
    header = ["model", "names", "requests", "input", "output", "cache read", "cache write", "cost"]
    out = ["<h2>Models</h2>", _table(header, rows)]
    if f.metrics_agree is not None:
        verdict = "agree" if f.metrics_agree else "DISAGREE"
        out.append(
            f'<p class="muted">Metrics cross-check: {verdict} (metrics: cost '
            f"{escape(fmt.money(f.metrics_cost_usd))}).</p>"
        )
    return out


def _tool_section(f: Figures) -> list[str]:
    if not f.tools:
        return []
    rows = [
        [
            _code(t.name),
            _td(fmt.count(t.count), numeric=True, path=f"totals.tools.by_name.{i}.count"),
            _td(fmt.count(t.failures), numeric=True, path=f"totals.tools.by_name.{i}.failures"),
            _td(fmt.duration(t.duration_ms), numeric=True),
            _td(fmt.duration(t.max_duration_ms), numeric=True),
        ]
        for i, t in enumerate(f.tools[:MAX_TABLE_ROWS])
    ]
    return ["<h2>Tools</h2>", _table(["tool", "uses", "failed", "total time", "longest"], rows)]


def _list_sections(f: Figures) -> list[str]:
    out: list[str] = []
    if f.commands:
        title = f"Commands ({fmt.plural(f.command_runs, 'run')}, {len(f.commands):,} distinct)"
        rows = [
            [
                _code(c["command"], 1000),
                _td(c["count"], numeric=True),
                _td(c["failures"], numeric=True),
            ]
            for c in f.commands[:MAX_TABLE_ROWS]
        ]
        out += [f"<h2>{escape(title)}</h2>", _table(["command", "runs", "failed"], rows)]
        out.append(_more(len(f.commands)))
    for title, listing in (("Files modified", f.files_modified), ("Files read", f.files_read)):
        if listing:
            rows = [
                [_code(x["path"]), _td(x["count"], numeric=True)] for x in listing[:MAX_TABLE_ROWS]
            ]
            out += [f"<h2>{title} ({len(listing):,})</h2>", _table(["path", "times"], rows)]
            out.append(_more(len(listing)))
    if f.prompts:
        out.append(f"<h2>Prompts ({f.prompts:,})</h2>")
        if f.prompt_texts:
            items = "".join(
                f"<li><code>{escape(fmt.clip(t, 2000))}</code></li>"
                for t in f.prompt_texts[:MAX_TABLE_ROWS]
            )
            out.append(f"<ol>{items}</ol>")
        else:
            out.append('<p class="muted">Prompt text was not captured.</p>')
    return out


def _redaction_section(f: Figures) -> list[str]:
    if not f.redactions:
        return []
    rows = [
        [_code(k), _td(fmt.count(v), numeric=True, path=f"totals.redactions.{k}")]
        for k, v in sorted(f.redactions.items())
    ]
    return ["<h2>Redactions</h2>", _table(["family", "secrets replaced"], rows)]


def _finding_section(report: Report) -> list[str]:
    if not report.findings:
        return []
    rows = []
    for finding in report.findings[:MAX_TABLE_ROWS]:
        severity, rule, what = finding_row(finding)
        rows.append([_td(severity), _code(rule), _td(what)])
    return [
        f"<h2>Findings ({len(report.findings):,})</h2>",
        _table(["severity", "rule", "finding"], rows),
    ]


def _more(total: int) -> str:
    return (
        f'<p class="muted">… and {total - MAX_TABLE_ROWS:,} more</p>'
        if total > MAX_TABLE_ROWS
        else ""
    )


def _group_table(title: str, prefix: str, groups: list[Group]) -> list[str]:
    rows = []
    for i, g in enumerate(groups[:MAX_TABLE_ROWS]):
        f = g.figures
        p = f"{prefix}.{i}"
        rows.append(
            [
                _code(g.key),
                _code(g.harness),
                _td(fmt.count(f.prompts), numeric=True, path=f"{p}.prompts.count"),
                _td(fmt.count(f.requests), numeric=True, path=f"{p}.api.requests"),
                _td(fmt.money(f.cost_usd), numeric=True, path=f"{p}.cost_usd"),
                _td(fmt.count(f.tokens["input"]), numeric=True, path=f"{p}.tokens.input"),
                _td(fmt.count(f.tokens["output"]), numeric=True, path=f"{p}.tokens.output"),
                _td(fmt.count(f.tool_uses), numeric=True, path=f"{p}.tools.uses"),
                _td(fmt.count(f.command_runs), numeric=True, path=f"{p}.commands.runs"),
                _td(
                    fmt.count(len(f.files_modified)), numeric=True, path=f"{p}.files.modified.count"
                ),
            ]
        )
    header = [
        "id",
        "harness",
        "prompts",
        "requests",
        "cost",
        "input",
        "output",
        "tool uses",
        "commands",
        "files modified",
    ]
    return [f"<h2>{escape(title)}</h2>", _table(header, rows) + _more(len(groups))]
