"""Builds beacon/schema/runtime-1.0.schema.json from the 1.0 field list plus beacon's objects.

Run ``python tests/pipeline/build_schema.py`` after changing either; a test
checks that the shipped schema equals what this produces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIELDS_PATH = ROOT / "tests" / "fixtures" / "beacon-fields-1.0.json"
SCHEMA_PATH = ROOT / "beacon" / "schema" / "runtime-1.0.schema.json"

_LEAF_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string", "minLength": 1},
    "int": {"type": "integer"},
    "double": {"type": "number"},
    "bool": {"type": "boolean"},
    "list(string)": {"type": "array", "items": {"type": "string"}},
}
_OVERRIDES: dict[str, dict[str, Any]] = {
    "timestamp": {
        "type": "string",
        "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$",
    },
    "vendor": {"const": "beacon"},
    "product": {"const": "endpoint-agent"},
    "schema_version": {"const": "1.0"},
    "origin": {"const": "ci"},
    "severity": {"enum": ["info", "low", "medium", "high", "critical"]},
    "event.kind": {"const": "agent_runtime"},
    "event.action": {"type": "string", "pattern": r"^[a-z_]+\.[a-z_]+$"},
    "event.category": {"type": "string", "pattern": r"^[a-z_]+$"},
}
_REQUIRED: dict[str, list[str]] = {
    "": [
        "timestamp",
        "vendor",
        "product",
        "schema_version",
        "event",
        "severity",
        "endpoint",
        "harness",
        "beacon",
    ],
    "event": ["kind", "action", "category"],
    "endpoint": ["hostname", "os", "agent_version"],
    "harness": ["name", "version"],
}

_COUNTS = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-z0-9_.]+$"},
    "additionalProperties": {"type": "integer", "minimum": 0},
}

BEACON_OBJECT: dict[str, Any] = {
    "type": "object",
    "required": ["session_id", "source", "truncated_fields", "redactions"],
    "additionalProperties": False,
    "properties": {
        "session_id": {"type": "string", "minLength": 1},
        "source": {
            "type": "object",
            "required": ["signal"],
            "additionalProperties": False,
            "properties": {
                "signal": {"enum": ["logs", "metrics", "traces", "beacon"]},
                "scope": {"type": "string"},
                "event_name": {"type": "string", "minLength": 1},
                "sequence": {"type": "integer"},
            },
        },
        "truncated_fields": {"type": "array", "items": {"type": "string"}},
        "redactions": _COUNTS,
        "duration_ms": {"type": "integer", "minimum": 0},
        "malformed": {"type": "boolean"},
        "summary": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "actions": _COUNTS,
                "records": _COUNTS,
                "requests": _COUNTS,
                "redactions": _COUNTS,
                "events_written": {"type": "integer", "minimum": 0},
                "malformed_records": {"type": "integer", "minimum": 0},
                "spool": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "truncated_tail": {"type": "boolean"},
                        "bad_lines": {"type": "integer", "minimum": 0},
                        "missing": {"type": "boolean"},
                    },
                },
            },
        },
    },
}

METRIC_OBJECT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "kind"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "value": {"type": "number"},
        "count": {"type": "integer"},
        "unit": {"type": "string", "minLength": 1},
        "kind": {"enum": ["sum", "gauge", "histogram", "exponential_histogram", "summary"]},
        "temporality": {"enum": ["delta", "cumulative", "unspecified"]},
    },
}


def _object() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {}}


def build_schema(fields: dict[str, str]) -> dict[str, Any]:
    root = _object()
    for dotted, kind in sorted(fields.items()):
        node = root
        parts = dotted.split(".")
        for depth, part in enumerate(parts[:-1]):
            prefix = ".".join(parts[: depth + 1])
            node = node["properties"].setdefault(part, _object())
            if prefix in _REQUIRED:
                node["required"] = _REQUIRED[prefix]
        node["properties"][parts[-1]] = dict(_OVERRIDES.get(dotted, _LEAF_TYPES[kind]))
    root["properties"]["metric"] = METRIC_OBJECT
    root["properties"]["beacon"] = BEACON_OBJECT
    root["properties"]["raw"] = {"type": "object"}
    root["required"] = _REQUIRED[""]
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://beacon.dev/schemas/runtime-1.0.schema.json",
        "title": "beacon runtime.jsonl line (Beacon endpoint event schema 1.0)",
        **root,
    }


def main() -> None:
    fields = json.loads(FIELDS_PATH.read_text())
    SCHEMA_PATH.write_text(json.dumps(build_schema(fields), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
