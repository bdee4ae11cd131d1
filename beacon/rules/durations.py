"""Go's ``time.ParseDuration``: the format of ``correlation.window``."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds; ``ValueError`` for what Go rejects (``"5"``, ``"5 m"``, ``"5d"``, ``""``)."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"invalid duration {text!r}")
    sign = 1.0
    body = text
    if body[0] in "+-":
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total = 0.0
    position = 0
    while position < len(body):
        found = _PART.match(body, position)
        if found is None:
            raise ValueError(f"invalid duration {text!r}")
        total += float(found.group(1)) * _UNITS[found.group(2)]
        position = found.end()
    return sign * total
