"""Garbage-collector settings for beacon's hot loops: serving the collector, the pipeline.

Decoding OTLP/JSON allocates many short-lived dicts and lists; with CPython's
defaults (a collection every 700 container allocations) a loaded collector
spent about a quarter of its time in the collector, mostly in full
collections rescanning every long-lived object (aiohttp, grpc, modules).
Freezing what exists once the collector is up takes those objects out of
every later collection, and a larger first-generation threshold makes
collections rarer; request data has no reference cycles, so reference
counting frees it either way. Process-wide, hence opt-in
(``CollectorConfig.tune_gc``): meant for beacon's own daemon/exec processes,
not for a process that merely embeds a collector (a test run).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

#: Container allocations between young-generation collections (CPython default: 700).
GEN0_THRESHOLD: Final = 10_000


def tune_gc_for_serving() -> None:
    """Freeze the objects alive now and raise the young-generation threshold."""
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GEN0_THRESHOLD), gen1, gen2)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block (the state before is restored after).

    For the pipeline's per-chunk work: every runtime line allocates a few dozen
    dicts and lists that reference counting frees, yet each 700 allocations
    start a young collection that scans them (a few per cent of the CPU).
    Whatever cycles the block leaves are collected after it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
