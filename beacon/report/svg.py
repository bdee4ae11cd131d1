"""Inline SVG for the HTML report: a timeline and horizontal bar charts (no scripts)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from beacon.report import fmt

COLORS = {
    "prompt": "#8250df",
    "model": "#0969da",
    "tool": "#1a7f37",
    "command": "#bf8700",
    "error": "#cf222e",
    "input": "#0969da",
    "output": "#1a7f37",
    "cache_read": "#8c959f",
    "cache_creation": "#bf8700",
    "cost": "#8250df",
}
LANES = ("prompt", "model", "tool", "command", "error")
LANE_TITLES = {
    "prompt": "prompts",
    "model": "model calls",
    "tool": "tools",
    "command": "commands",
    "error": "errors",
}


@dataclass(frozen=True)
class Mark:
    lane: str
    row: str  # which row group (a Claude session)
    start_ms: float
    duration_ms: float
    label: str


def _nice_step(span_ms: float, ticks: int = 8) -> float:
    raw = max(span_ms / ticks, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def timeline(marks: Sequence[Mark], rows: Sequence[str], *, width: int = 1000) -> str:
    """One time axis; per row group (session) one lane per kind that has marks."""
    if not marks:
        return '<p class="muted">No timed events in this run.</p>'
    left, right, lane_h = 190, 16, 18
    t0 = min(m.start_ms for m in marks)
    t1 = max(m.start_ms + m.duration_ms for m in marks)
    span = max(t1 - t0, 1.0)
    plot = width - left - right
    lanes = [
        (row, lane)
        for row in rows
        for lane in LANES
        if any(m.row == row and m.lane == lane for m in marks)
    ]
    index = {key: i for i, key in enumerate(lanes)}
    height = 30 + lane_h * len(lanes) + 24
    parts = [
        f'<svg class="timeline" role="img" aria-label="timeline of the run" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    step = _nice_step(span)
    tick = 0.0
    axis_y = 30 + lane_h * len(lanes)
    while tick <= span + 1e-9:
        x = left + tick / span * plot
        parts.append(
            f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{axis_y}" class="grid"/>'
            f'<text x="{x:.1f}" y="{axis_y + 16}" class="tick">'
            f"{escape(fmt.duration(tick))}</text>"
        )
        tick += step
    previous_row = None
    for (row, lane), i in index.items():
        y = 30 + i * lane_h
        label = LANE_TITLES[lane]
        if row != previous_row:
            parts.append(f'<text x="4" y="{y + 12}" class="row">{escape(fmt.clip(row, 14))}</text>')
            previous_row = row
        parts.append(f'<text x="{left - 6}" y="{y + 12}" class="lane">{label}</text>')
    for mark in marks:
        y = 30 + index[(mark.row, mark.lane)] * lane_h + 3
        x = left + (mark.start_ms - t0) / span * plot
        w = max(mark.duration_ms / span * plot, 2.5)
        color = COLORS[mark.lane]
        title = escape(fmt.clip(mark.label, 300))
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{lane_h - 6}" rx="2" '
            f'fill="{color}"><title>{title}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    rows: Sequence[tuple[str, Sequence[tuple[str, float]]]],
    *,
    value_label: str,
    money: bool = False,
    width: int = 640,
) -> str:
    """Horizontal stacked bars, one per row; segments are (kind, value)."""
    if not rows:
        return '<p class="muted">Nothing to chart.</p>'
    left, right, bar_h = 200, 110, 20
    biggest = max(sum(v for _, v in segments) for _, segments in rows) or 1.0
    plot = width - left - right
    height = 10 + len(rows) * (bar_h + 8) + 10
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(value_label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, segments) in enumerate(rows):
        y = 10 + i * (bar_h + 8)
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" class="lane">{escape(fmt.clip(label, 28))}</text>'
        )
        x = float(left)
        for kind, value in segments:
            w = value / biggest * plot
            if w <= 0:
                continue
            shown = fmt.money(value) if money else fmt.count(round(value))
            color = COLORS.get(kind, "#57606a")
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{color}"><title>{escape(kind)}: {shown}</title></rect>'
            )
            x += w
        total = sum(v for _, v in segments)
        shown = fmt.money(total) if money else fmt.count(round(total))
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 14}" class="value">{shown}</text>')
    parts.append("</svg>")
    return "".join(parts)
