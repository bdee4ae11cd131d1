"""What the collector has received: counters, in-flight exports, and a change signal.

One ``Stats`` per collector, touched only from the event loop thread. Every
arrival and completion sets ``changed`` so ``wait_quiet`` can wake on events
instead of polling.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from beacon.clock import utc_iso
from beacon.otlp import SIGNALS


class Stats:
    """Counters of one collector. ``records``/``rejected`` are per signal.

    ``records`` counts accepted log records, metric data points and spans;
    ``rejected`` counts refused export requests (their records may be
    unknowable, e.g. undecodable bodies) plus records refused through
    partial success; ``requests`` counts export requests by outcome.
    """

    def __init__(self) -> None:
        self.records: dict[str, int] = dict.fromkeys(SIGNALS, 0)
        self.rejected: dict[str, int] = dict.fromkeys(SIGNALS, 0)
        self.requests: dict[str, int] = {}
        self.bytes = 0
        self.in_flight = 0
        self.last_receive_wall: float | None = None
        self.last_activity = time.monotonic()
        self.changed = asyncio.Event()

    def _touch(self) -> None:
        self.last_activity = time.monotonic()
        self.changed.set()

    def notify(self) -> None:
        """Wake waiters on a state change that is not traffic (e.g. stopping)."""
        self.changed.set()

    def begin(self) -> None:
        """An export request arrived (before its body is read)."""
        self.in_flight += 1
        self.last_receive_wall = time.time()
        self._touch()

    def end(self) -> None:
        self.in_flight -= 1
        self._touch()

    def count_outcome(self, outcome: str) -> None:
        self.requests[outcome] = self.requests.get(outcome, 0) + 1

    def accepted(self, signal: str, records: int, body_bytes: int) -> None:
        self.records[signal] += records
        self.bytes += body_bytes

    def refused(self, signal: str, count: int = 1) -> None:
        self.rejected[signal] += count

    def total_records(self) -> int:
        return sum(self.records.values())

    def snapshot(self) -> dict[str, Any]:
        last = self.last_receive_wall
        return {
            "records": dict(self.records),
            "rejected": dict(self.rejected),
            "requests": dict(self.requests),
            "bytes": self.bytes,
            "last_receive_at": None if last is None else utc_iso(last),
            "in_flight": self.in_flight,
        }
