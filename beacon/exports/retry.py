"""Jittered exponential backoff, bounded in time (shared by uploads and forwards)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from beacon.exports.objects import ExportFailure

T = TypeVar("T")

BASE_DELAY_S = 0.2
MAX_DELAY_S = 8.0


class RetryLater(ExportFailure):
    """A retryable failure; ``delay_s`` is the server's own hint (Retry-After), if any."""

    def __init__(self, cause: str, fix: str | None = None, *, delay_s: float | None = None) -> None:
        super().__init__(cause, fix, retryable=True)
        self.delay_s = delay_s


async def with_retries(
    attempt: Callable[[], Awaitable[T]], *, deadline_s: float, attempts: int = 8
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the time budget is spent.

    Only ``ExportFailure(retryable=True)`` is retried: full jitter
    (AWS architecture blog), capped; a server's ``Retry-After`` wins when it fits.
    """
    started = time.monotonic()
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except ExportFailure as failure:
            if not failure.retryable or number == attempts:
                raise
            hint = failure.delay_s if isinstance(failure, RetryLater) else None
            delay = (
                hint
                if hint is not None
                else random.uniform(0, min(MAX_DELAY_S, BASE_DELAY_S * 2**number))
            )
            if time.monotonic() - started + delay > deadline_s:
                raise ExportFailure(
                    f"{failure.cause} (gave up after {number} attempts in "
                    f"{time.monotonic() - started:.1f}s)",
                    failure.fix,
                ) from failure
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
