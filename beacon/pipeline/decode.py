"""Total decoders for OTLP/JSON values as they appear in the spool (pure).

Every function accepts anything (a spool line is untrusted) and returns a
well-typed value or ``None``; none of them raises. They accept both the
spool's encoding (hex ids, int64 as strings, enums as ints) and the
``google.protobuf.json_format`` one (base64 ids, enum names), so a record
decodes the same whichever path produced it.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

# orjson cannot serialize ints outside 64 bits; OTLP has none, but input is untrusted.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
MAX_DEPTH = 16
MAX_ITEMS = 1000

Json = Any


def as_int(value: Any) -> int | None:
    """An int from an int, an integral float or a decimal string; else None."""
    if type(value) is int:  # the common case first (bool is a subclass: not here)
        return value if _INT_MIN <= value <= _INT_MAX else None
    if type(value) is str and value.isdigit() and len(value) <= 20:
        # The spool's int64s: decimal digits (isdigit also takes other scripts' digits,
        # which int() reads too, and superscripts, which it does not: those go on below).
        try:
            number = int(value)
        except ValueError:
            pass
        else:
            return number if number <= _INT_MAX else None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return as_int(int(value))
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 24:
            return None
        try:
            return as_int(int(text))
        except ValueError:
            try:
                return as_int(float(text))
            except ValueError:
                return None
    return None


def as_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; NaN and infinities give None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:
            return None
        return result if math.isfinite(result) else None
    if isinstance(value, str) and len(value) <= 64:
        try:
            result = float(value.strip())
        except ValueError:
            return None
        return result if math.isfinite(result) else None
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_safe_number(value: Any) -> Json:
    # Raw values keep what was sent, but as JSON: non-finite doubles become their names.
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def any_value(value: Any, depth: int = 0) -> Json:
    """An OTLP ``AnyValue`` dict as a plain JSON value (None when empty or unreadable)."""
    if not isinstance(value, dict) or not value:
        return None
    if "stringValue" in value:
        text = value["stringValue"]
        return text if isinstance(text, str) else None
    if "boolValue" in value:
        return as_bool(value["boolValue"])
    if "intValue" in value:
        return int_value(value["intValue"])
    if "doubleValue" in value:
        raw = value["doubleValue"]
        if isinstance(raw, str) and raw in ("NaN", "Infinity", "-Infinity"):
            return raw
        finite = as_float(raw)
        if finite is None and isinstance(raw, int | float) and not isinstance(raw, bool):
            return _json_safe_number(float(raw))
        return finite
    if "bytesValue" in value:
        return as_str(value["bytesValue"])
    if depth >= MAX_DEPTH:
        return "[depth limit]"
    if "arrayValue" in value:
        array = value["arrayValue"]
        items = array.get("values") if isinstance(array, dict) else None
        if not isinstance(items, list):
            return []
        return [any_value(item, depth + 1) for item in items[:MAX_ITEMS]]
    if "kvlistValue" in value:
        kvlist = value["kvlistValue"]
        items = kvlist.get("values") if isinstance(kvlist, dict) else None
        return attributes(items, depth + 1)
    return None


def int_value(raw: Any) -> int | str | None:
    """An ``AnyValue``'s ``intValue``: an int when it reads as one, else the text sent."""
    number = as_int(raw)
    return number if number is not None else as_str(raw)


def attributes(items: Any, depth: int = 0) -> dict[str, Json]:
    """A list of OTLP ``KeyValue`` dicts as a dict (later duplicates win, like the SDKs)."""
    result: dict[str, Json] = {}
    if not isinstance(items, list):
        return result
    for item in items[:MAX_ITEMS]:
        if not isinstance(item, dict):
            continue
        key = item.get("key")
        if not isinstance(key, str):
            continue
        value = item.get("value")
        # Most attributes are strings: answer them here, as any_value would, without a call.
        text = value.get("stringValue") if isinstance(value, dict) else None
        result[key] = text if isinstance(text, str) else any_value(value, depth)
    return result


def hex_id(value: Any, size: int) -> str | None:
    """A trace/span id as lower-case hex; accepts hex of any case or base64 of ``size`` bytes.

    All-zero ids mean "absent" in OTLP and give None.
    """
    if type(value) is str and len(value) == size * 2:
        # The spool's own encoding, first: 2 * size characters give size bytes only when
        # every one is a hex digit, so this answers as the general path below would.
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) == size:
            return raw.hex() if any(raw) else None
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if len(text) == size * 2:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    if len(raw) != size or not any(raw):
        return None
    return raw.hex()


def unix_nanos(value: Any) -> int | None:
    number = as_int(value)
    if number is None or number <= 0:
        return None
    return number


def rfc3339(nanos: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC with millisecond precision."""
    seconds, rest = divmod(nanos, 1_000_000_000)
    return f"{_second_prefix(seconds)}.{rest // 1_000_000:03d}Z"


@lru_cache(maxsize=4096)
def _second_prefix(seconds: int) -> str:
    # Records arrive in bursts within the same seconds: format each second once.
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        moment = datetime.fromtimestamp(0, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def enum_value(value: Any, names: dict[str, int]) -> int | None:
    """An OTLP enum given as int or as its proto name."""
    if isinstance(value, str):
        if value in names:
            return names[value]
        return as_int(value)
    return as_int(value)
