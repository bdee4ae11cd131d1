"""Wall-clock times as beacon prints them in state and status documents."""

from __future__ import annotations

import datetime as dt


def utc_iso(epoch_s: float) -> str:
    """``2026-01-02T03:04:05.678Z`` (UTC, millisecond precision)."""
    moment = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
