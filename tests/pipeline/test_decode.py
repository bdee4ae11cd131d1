"""The total decoders: spool values of any shape give a well-typed value or None."""

from __future__ import annotations

from typing import Any

import pytest

from beacon.pipeline.decode import as_int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1795912906281000000", 1795912906281000000),  # a spool int64: decimal digits
        ("00", 0),
        ("18446744073709551615", 2**64 - 1),  # the largest uint64
        ("18446744073709551616", None),  # beyond 64 bits: orjson could not write it
        ("99999999999999999999", None),
        ("-5", -5),
        (" 7 ", 7),
        ("1.0", 1),
        ("1.5", None),
        ("٣", 3),  # other scripts' digits: int() reads them
        ("²", None),  # a superscript is a digit to isdigit(), not to int()
        ("", None),
        (7, 7),
        (2.0, 2),
        (True, 1),
        (None, None),
        ([1], None),
    ],
)
def test_as_int(value: Any, expected: int | None) -> None:
    assert as_int(value) == expected
