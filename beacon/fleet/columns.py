"""DuckDB column types for runtime.jsonl, derived from the shipped Beacon 1.0 JSON Schema.

The schema, not a sample of the data, gives every column its type: a field that
no selected run carries still exists with its type, so a query over it returns
NULLs instead of failing with "column not found".
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

_SCALARS = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}


def duckdb_type(schema: dict[str, Any]) -> str:
    """The DuckDB type of one JSON Schema node (objects become STRUCTs, maps MAPs)."""
    if "enum" in schema or "const" in schema:
        return "VARCHAR"
    kind = schema.get("type")
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        return duckdb_type(schema.get("items", {})) + "[]"
    if kind == "object":
        properties = schema.get("properties")
        if properties:
            members = ", ".join(
                f"{quote(name)} {duckdb_type(child)}" for name, child in sorted(properties.items())
            )
            return f"STRUCT({members})"
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values.get("type") in _SCALARS:
            return f"MAP(VARCHAR, {_SCALARS[values['type']]})"
    # Free-form objects (``raw``) and untyped values stay JSON.
    return "JSON"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@cache
def runtime_schema() -> dict[str, Any]:
    text = resources.files("beacon").joinpath("schema/runtime-1.0.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def event_columns() -> dict[str, str]:
    """Top-level field -> DuckDB type, for ``read_json(columns=...)``."""
    return {
        name: duckdb_type(child) for name, child in sorted(runtime_schema()["properties"].items())
    }
