"""docs/schema-reference.md is generated from the shipped JSON Schema and cannot drift from it."""

from __future__ import annotations

from pathlib import Path

from beacon.pipeline.schemadoc import PAGE, fields, render_schema_reference
from beacon.pipeline.validate import load_schema

REPO = Path(__file__).resolve().parents[2]


def test_the_page_is_what_the_schema_renders_now() -> None:
    page = (REPO / PAGE).read_text(encoding="utf-8")
    assert page == render_schema_reference(), "run: python -m beacon.pipeline.schemadoc"


def test_every_field_and_every_required_one_is_listed() -> None:
    schema = load_schema()
    page = render_schema_reference(schema)
    listed = list(fields(schema))
    assert len(listed) > 100
    for path, _, required in listed:
        row = next(line for line in page.splitlines() if line.startswith(f"| `{path}` |"))
        assert ("| yes |" in row) == required, path
    for name in schema["required"]:
        assert f"| `{name}` |" in page


def test_constraints_come_from_the_schema() -> None:
    schema = {
        "title": "t",
        "properties": {
            "a": {"type": "object", "required": ["b"], "properties": {"b": {"enum": ["x", "y"]}}},
            "c": {"type": "integer", "minimum": 0},
        },
    }
    page = render_schema_reference(schema)
    assert "| `a.b` | enum | yes | enum `x`, `y` |" in page
    assert "| `c` | integer |  | minimum `0` |" in page
