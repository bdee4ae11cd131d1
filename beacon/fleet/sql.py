"""``beacon fleet sql``: one query over the fleet's views, printed as a table, JSON or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from beacon.errors import UsageError

SQL_FORMATS = ("table", "json", "csv")
MAX_CELL = 80


def run_sql(con: Any, query: str, fmt: str) -> str:
    import duckdb

    try:
        cursor = con.execute(query)
        if cursor.description is None:
            return ""
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"the query failed: {first}",
            hint="the views are `events` and `runs` (docs/fleet.md lists their columns)",
        ) from exc
    if fmt == "json":
        return "".join(
            json.dumps(dict(zip(names, row, strict=True)), default=_plain) + "\n" for row in rows
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return buffer.getvalue()
    return _table(names, rows)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, default=_plain)
    return str(value)


def _table(names: list[str], rows: list[tuple[Any, ...]]) -> str:
    cells = [[_cell(v)[:MAX_CELL] for v in row] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"
