"""tune_gc: the collector's process freezes its start-up heap and collects less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from beacon.gctune import GEN0_THRESHOLD

from .conftest import MakeCollector


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    # The test process is not a collector daemon: undo the process-wide change.
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def test_tune_gc_freezes_and_raises_the_threshold(
    make_collector: MakeCollector, restore_gc: None
) -> None:
    gc.unfreeze()
    await make_collector(tune_gc=True)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] >= GEN0_THRESHOLD


async def test_gc_is_left_alone_by_default(make_collector: MakeCollector, restore_gc: None) -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    await make_collector()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
