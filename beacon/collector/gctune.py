"""Garbage-collector settings for a process whose main job is serving the collector.

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
from typing import Final

#: Container allocations between young-generation collections (CPython default: 700).
GEN0_THRESHOLD: Final = 10_000


def tune_gc_for_serving() -> None:
    """Freeze the objects alive now and raise the young-generation threshold."""
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GEN0_THRESHOLD), gen1, gen2)
