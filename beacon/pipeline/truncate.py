"""Size limits: per-field truncation and the per-line cap (pure).

Both run after redaction, so a cut can never leave half a secret behind.
A line over the cap shrinks its largest strings first (``raw`` included); if
strings alone cannot make it fit, ``raw`` is emptied, and as a last resort
the line keeps only its required fields. A line is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

MARKER = "…[truncated]"
_MARKER_BYTES = len(MARKER.encode())
# A field is never shrunk below this by the line cap (it stays recognisable).
MIN_KEPT_BYTES = 64
_MAX_LISTED_FIELDS = 50
_REQUIRED_TOP_LEVEL = (
    "timestamp",
    "vendor",
    "product",
    "schema_version",
    "origin",
    "event",
    "severity",
    "endpoint",
    "harness",
    "run",
    "session",
    "content",
    "field_truncated",
    "beacon",
)


def utf8_len(text: str) -> int:
    # Fast path: every character is at most 4 bytes.
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def truncate_text(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, marker included (never mid-character)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return text
    keep = max(0, max_bytes - _MARKER_BYTES)
    return data[:keep].decode("utf-8", "ignore") + MARKER


def dumps(line: dict[str, Any]) -> bytes:
    return orjson.dumps(line)


def _string_leaves(node: Any, path: str, out: list[tuple[int, str, Any, Any]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(value, str):
                out.append((utf8_len(value), child, node, key))
            elif isinstance(value, dict | list):
                _string_leaves(value, child, out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            child = f"{path}[{index}]"
            if isinstance(value, str):
                out.append((utf8_len(value), child, node, index))
            elif isinstance(value, dict | list):
                _string_leaves(value, child, out)


def mark_truncated(line: dict[str, Any], path: str) -> None:
    line["field_truncated"] = True
    content = line.setdefault("content", {})
    content["truncated"] = True
    fields: list[str] = line.setdefault("beacon", {}).setdefault("truncated_fields", [])
    if path not in fields and len(fields) < _MAX_LISTED_FIELDS:
        fields.append(path)


def cap_line(
    line: dict[str, Any], max_bytes: int, serialize: Callable[[dict[str, Any]], bytes] = dumps
) -> bytes:
    """The serialized line, shrunk until it fits ``max_bytes`` (newline not included)."""
    data = serialize(line)
    if len(data) <= max_bytes:
        return data
    leaves: list[tuple[int, str, Any, Any]] = []
    _string_leaves(line, "", leaves)
    leaves.sort(key=lambda leaf: leaf[0], reverse=True)
    for size, path, container, key in leaves:
        if path in ("timestamp", "vendor", "product", "schema_version") or size <= MIN_KEPT_BYTES:
            continue
        excess = len(data) - max_bytes
        target = max(MIN_KEPT_BYTES, size - excess - 2 * _MARKER_BYTES)
        container[key] = truncate_text(container[key], target)
        mark_truncated(line, path)
        data = serialize(line)
        if len(data) <= max_bytes:
            return data
    if line.get("raw"):
        line["raw"] = {}
        mark_truncated(line, "raw")
        data = serialize(line)
        if len(data) <= max_bytes:
            return data
    minimal = {key: line[key] for key in _REQUIRED_TOP_LEVEL if key in line}
    minimal["message"] = "line exceeded the size limit; fields dropped"
    beacon = dict(minimal.get("beacon", {}))
    beacon["truncated_fields"] = ["*"]
    minimal["beacon"] = beacon
    minimal["raw"] = {}
    return serialize(minimal)
