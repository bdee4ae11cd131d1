"""The fast schema check answers exactly as fastjsonschema does (differential tests)."""

from __future__ import annotations

import copy
import os
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from beacon.pipeline.schemacheck import UnsupportedSchema, compile_check
from beacon.pipeline.validate import load_schema, schema_check, validate_line

from .helpers import fixture_requests, protected_lines

EXAMPLES = settings(
    max_examples=int(os.environ.get("BEACON_PROPERTY_EXAMPLES", "150")) * 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
REFERENCE = fastjsonschema.compile(load_schema())


def reference_accepts(validator: Any, value: Any) -> bool:
    try:
        validator(value)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def real_lines() -> list[dict[str, Any]]:
    requests = [*fixture_requests("grpc"), *fixture_requests("http-protobuf", ".write-tool")]
    return protected_lines(requests)


# JSON values, with the edge cases the draft's readings turn on: bool vs integer,
# integral floats, empty strings, a trailing newline before a pattern's ``$``.
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0.0, 1.0, -1.0, 2.5, float("inf")]),
    st.sampled_from(
        [
            "",
            "x",
            "logs",
            "agent_runtime",
            "agent_runtime\n",
            "tool.result",
            "tool.result\n",
            "Tool.Result",
            "prompt",
            "2026-11-29T00:41:46.281Z",
            "2026-11-29T00:41:46.281Z\n",
            "github_token",
            "Bad-Key",
        ]
    ),
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "name", "version", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node`` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_lines(draw: st.DrawFn) -> dict[str, Any]:
    """A real runtime line with one to three values replaced, added or removed."""
    lines = real_lines_cache()
    line = copy.deepcopy(draw(st.sampled_from(lines)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(line)
        path = draw(st.sampled_from(paths))
        parent: Any = line
        for step in path[:-1]:
            parent = parent[step]
        what = draw(st.sampled_from(["replace", "delete", "add"]))
        if what == "replace":
            parent[path[-1]] = draw(JSON_VALUES)
        elif what == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            key = draw(st.sampled_from(["extra", "name", "session_id", "hostname", "Bad-Key"]))
            parent[key] = draw(JSON_VALUES)
    return line


_LINES: list[dict[str, Any]] = []


def real_lines_cache() -> list[dict[str, Any]]:
    if not _LINES:
        _LINES.extend(real_lines())
    return _LINES


def test_every_real_line_is_valid_for_both() -> None:
    lines = real_lines()
    assert len(lines) > 20
    check = schema_check()
    for line in lines:
        assert check(line)
        assert reference_accepts(REFERENCE, line)


@EXAMPLES
@given(mutated_lines())
def test_mutated_lines_get_the_same_verdict(line: dict[str, Any]) -> None:
    assert schema_check()(line) == reference_accepts(REFERENCE, line)


@EXAMPLES
@given(JSON_VALUES)
def test_arbitrary_values_get_the_same_verdict(value: Any) -> None:
    assert schema_check()(value) == reference_accepts(REFERENCE, value)


# Small schemas of the supported subset, with and without a type, so keywords meet
# values of other kinds (where they must pass).
_LEAF_SCHEMAS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["string", "integer", "number", "boolean", "object", "array"]),
        "minLength": st.integers(min_value=0, max_value=2),
        "minimum": st.sampled_from([0, 1, -1, 0.5]),
        "pattern": st.sampled_from(["^[a-z_]+$", "^[a-z_]+\\.[a-z_]+$", "x"]),
        "enum": st.lists(st.sampled_from(["logs", "x", ""]), min_size=1, max_size=3),
        "const": st.sampled_from(["agent_runtime", "x"]),
    },
)
SCHEMAS = st.recursive(
    _LEAF_SCHEMAS,
    lambda inner: (
        st.fixed_dictionaries(
            {
                "properties": st.dictionaries(
                    st.sampled_from(["a", "name", "version"]), inner, max_size=3
                )
            },
            optional={
                "type": st.just("object"),
                "required": st.lists(st.sampled_from(["a", "name"]), unique=True, max_size=2),
                "additionalProperties": st.one_of(st.booleans(), inner),
                "propertyNames": st.fixed_dictionaries({"pattern": st.just("^[a-z]+$")}),
            },
        )
        | st.fixed_dictionaries({"type": st.just("array"), "items": inner})
    ),
    max_leaves=5,
)


@EXAMPLES
@given(SCHEMAS, st.lists(JSON_VALUES, min_size=1, max_size=5))
def test_generated_schemas_get_the_same_verdicts(schema: dict[str, Any], values: list[Any]) -> None:
    try:
        reference = fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException:
        reject()  # fastjsonschema refuses contradictions (required but not allowed)
    fast = compile_check(schema)
    for value in values:
        assert fast(value) == reference_accepts(reference, value), (schema, value)


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"type": "integer"}, 1.0, True),
        ({"type": "integer"}, 1.5, False),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"type": "number"}, 2, True),
        ({"type": "boolean"}, 0, False),
        ({"type": "array"}, (), True),
        ({"pattern": "^[a-z_]+$"}, "tool\n", False),
        ({"pattern": "^[a-z_]+$"}, 7, True),
        ({"minLength": 1}, "", False),
        ({"minLength": 1}, [], True),
        ({"minimum": 0}, -1, False),
        ({"minimum": 0}, "-1", True),
        ({"minimum": 0}, True, True),
        ({"const": "agent_runtime"}, ["agent_runtime"], False),
        ({"enum": ["logs"]}, {"logs": 1}, False),
        ({"required": ["a"]}, {"b": 1}, False),
        ({"required": ["a"]}, "not an object", True),
        ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"b": 1}, False),
        ({"additionalProperties": {"minimum": 0}}, {"a": -1}, False),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"Bad": 1}, False),
        ({"items": {"type": "string"}}, ["a", 1], False),
    ],
)
def test_the_drafts_readings_match_fastjsonschema(schema: Any, value: Any, valid: bool) -> None:
    assert reference_accepts(fastjsonschema.compile(schema), value) is valid
    assert compile_check(schema)(value) is valid


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"type": "string"}]},
        {"type": ["string", "null"]},
        {"const": 1},
        {"enum": ["a", 1]},
        {"items": [{"type": "string"}]},
        {"minimum": "0"},
        ["not", "a", "schema"],
    ],
)
def test_what_it_does_not_implement_is_refused_at_compile_time(schema: Any) -> None:
    with pytest.raises(UnsupportedSchema):
        compile_check(schema)


def test_a_failing_line_still_gets_fastjsonschemas_message() -> None:
    line = copy.deepcopy(real_lines()[0])
    line["endpoint"]["hostname"] = ""
    message = "data.endpoint.hostname must be longer than or equal to 1 characters"
    assert validate_line(line) == message
