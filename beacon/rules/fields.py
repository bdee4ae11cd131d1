"""The event fields a rule's CEL expression can name, and what an absent one reads as.

The fields are the Beacon endpoint event 1.0 vocabulary, taken from the runtime
schema shipped in the package (beacon's own objects ``beacon``, ``metric`` and
``raw`` are not part of it). The Go reference engine exposes the event as a
native struct, so an absent field reads as its type's zero value (``""``,
``0``, ``0.0``, ``false``, ``[]``) rather than raising: :func:`zero_value`
gives the same reading here.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_RESOURCE = "runtime-1.0.schema.json"
#: Top-level objects of a runtime line that are beacon's, not the 1.0 event's.
BEACON_ONLY = frozenset({"beacon", "metric", "raw"})

_CEL_TYPES = {
    "string": "string",
    "integer": "int",
    "number": "double",
    "boolean": "bool",
    "array": "list",
}
_ZERO: dict[str, Any] = {"string": "", "int": 0, "double": 0.0, "bool": False, "list": []}


def _walk(prefix: str, node: dict[str, Any], out: dict[str, str]) -> None:
    for name, spec in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        if spec.get("type") == "object" or "properties" in spec:
            _walk(f"{path}.", spec, out)
        elif "enum" in spec:
            out[path] = "string"
        else:
            out[path] = _CEL_TYPES.get(str(spec.get("type")), "dyn")


@cache
def event_fields() -> dict[str, str]:
    """Dotted field path -> CEL type name (``string``, ``int``, ``double``, ``bool``, ``list``)."""
    text = resources.files("beacon").joinpath("schema", SCHEMA_RESOURCE).read_text("utf-8")
    schema = json.loads(text)
    out: dict[str, str] = {}
    for name, spec in schema["properties"].items():
        if name in BEACON_ONLY:
            continue
        _walk("", {"properties": {name: spec}}, out)
    return out


@cache
def object_paths() -> frozenset[str]:
    """Every dotted prefix that is an object (``gen_ai``, ``gen_ai.usage``, ...)."""
    prefixes: set[str] = set()
    for path in event_fields():
        parts = path.split(".")
        for end in range(1, len(parts)):
            prefixes.add(".".join(parts[:end]))
    return frozenset(prefixes)


def zero_value(cel_type: str) -> Any:
    value = _ZERO.get(cel_type, "")
    return [] if cel_type == "list" else value
