"""SequenceSet: the compact record of Claude's event.sequence numbers used for gap warnings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from beacon.pipeline.validate import SequenceSet


@given(st.lists(st.integers(min_value=-(2**40), max_value=2**40) | st.integers(0, 5000)))
def test_counts_distinct_values_and_max_like_a_set(values: list[int]) -> None:
    seen = SequenceSet()
    for value in values:
        seen.add(value)
    assert seen.count == len(set(values))
    assert seen.max == (max(values) if values else None)


def test_a_million_sequences_stay_small() -> None:
    seen = SequenceSet()
    for value in range(1_000_000):
        seen.add(value)
    seen.add(999_999)  # a duplicate (a retried export) is not counted twice
    assert seen.count == 1_000_000
    assert seen.max == 999_999
    assert len(seen._bits) <= 1 << 18  # bytes: 2 Mbit of bitmap at most, not ~60 MB of ints
