"""One row per figure: value, the floor or baseline measured in the same run, their ratio."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    floor: float | None = None
    # "max"/"min": value/floor must stay at or below / at or above target;
    # "abs-max"/"abs-min": the value itself must; None: informational.
    target: float | None = None
    rule: str | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.rule is None:
            return None
        measured = self.value if self.rule.startswith("abs-") else self.ratio
        if measured is None:
            return None
        return measured >= self.target if self.rule.endswith("min") else measured <= self.target


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def render_table(figures: Sequence[Figure], *, checked: bool = True) -> str:
    header = ("figure", "value", "unit", "floor", "ratio", "target", "result")
    rows = [header]
    for fig in figures:
        target = "-"
        if fig.target is not None and fig.rule is not None:
            symbol = ">=" if fig.rule.endswith("min") else "<="
            kind = "" if fig.rule.startswith("abs-") else "x"
            target = f"{symbol} {fig.target:g}{kind}"
        result = {True: "pass", False: "FAIL", None: "-"}[fig.passed] if checked else "n/a"
        rows.append(
            (fig.name, _fmt(fig.value), fig.unit, _fmt(fig.floor), _fmt(fig.ratio), target, result)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"  {fig.name}: {fig.note}" for fig in figures if fig.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def median_of(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def alternate(
    runs: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Time two commands alternately so drift in machine load hits both equally."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a.append(first())
        b.append(second())
    return a, b
