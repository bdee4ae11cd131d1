"""The shipped JSON Schema: built from the 1.0 field list, documented in docs/runtime-schema.md."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from beacon.pipeline.validate import load_schema, validate_line

from .build_schema import FIELDS_PATH, build_schema
from .helpers import fixture_requests, protected_lines

DOC = Path(__file__).resolve().parents[2] / "docs" / "runtime-schema.md"


def _field_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths = set()
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        paths.add(path)
        if sub.get("type") == "object" and "properties" in sub:
            paths |= _field_paths(sub, path + ".")
    return paths


def test_shipped_schema_is_the_generated_one() -> None:
    fields = json.loads(FIELDS_PATH.read_text())
    assert load_schema() == build_schema(fields), "run python tests/pipeline/build_schema.py"


def test_every_field_of_the_vocabulary_is_in_the_schema() -> None:
    fields = json.loads(FIELDS_PATH.read_text())
    assert len(fields) == 132
    assert set(fields) <= _field_paths(load_schema())


def test_every_documented_field_is_in_the_schema() -> None:
    leaves = _field_paths(load_schema())
    sections = re.split(r"^## ", DOC.read_text(), flags=re.MULTILINE)
    field_tables = [x for x in sections if x.startswith(("The 1.0 fields", "beacon's objects"))]
    assert len(field_tables) == 2
    documented = {
        name
        for section in field_tables
        for name in re.findall(r"^\| `([a-z_.]+)` \|", section, flags=re.MULTILINE)
    }
    assert len(documented) > 40
    assert documented - leaves == set()


def test_the_schema_rejects_what_the_contract_forbids() -> None:
    (line,) = [
        x
        for x in protected_lines(fixture_requests("grpc"))
        if x["event"]["action"] == "command.executed" and x["beacon"]["source"]["signal"] == "logs"
    ]
    assert validate_line(line) is None
    mutations: tuple[Callable[[dict[str, Any]], Any], ...] = (
        lambda x: x.update(vendor="other"),
        lambda x: x.update(message=""),
        lambda x: x["run"].update(run_id=7) if "run" in x else x.update(run={"run_id": 7}),
        lambda x: x.update(severity="urgent"),
        lambda x: x["command"].update(duration_ms="220"),
        lambda x: x.update(**{"event.action": "dotted"}),
        lambda x: x["endpoint"].pop("hostname"),
        lambda x: x.update(timestamp="yesterday"),
    )
    for mutate in mutations:
        broken = json.loads(json.dumps(line))
        mutate(broken)
        assert validate_line(broken) is not None
