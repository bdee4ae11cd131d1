"""The typed line check (``typedcheck``) accepts only what the usual check accepts.

Differential: real runtime lines (the recorded Claude Code runs, the benchmark's
workload, a run summary), mutated at every depth (values of every JSON type,
integers past 64 bits, integral floats, strings a pattern's ``$`` would take
before a newline, removed and added keys, duplicated keys) go through
``LogScan`` with and without the typed check: whenever msgspec accepts a line,
the usual check (orjson + schema) accepts it too, and the two scans end with
the same findings and counts.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.otlp.codec import request_to_dict
from beacon.pipeline.chunks import typed_check
from beacon.pipeline.schemacheck import UnsupportedSchema
from beacon.pipeline.typedcheck import build_line_type, line_decoder
from beacon.pipeline.validate import LogScan, load_schema, validate_line, verdict
from benchmarks.workload import log_requests

from .helpers import PROTOCOLS, fixture_requests, protected_lines

EXAMPLES = int(os.environ.get("BEACON_FUZZ_EXAMPLES", "100"))
PROPERTY = settings(
    max_examples=EXAMPLES * 3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TYPED = typed_check()
assert TYPED is not None, "msgspec is a dependency: the typed check must build"
HARNESSES = ("claude_code",)


def _real_lines() -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for protocol in PROTOCOLS:
        lines += protected_lines(fixture_requests(protocol))
    workload = log_requests(100)
    lines += protected_lines([("logs", request_to_dict("logs", next(workload)))])[:10]
    summary = copy.deepcopy(lines[0])
    summary["event"] = {"kind": "agent_runtime", "action": "session.summary", "category": "x"}
    summary["beacon"]["summary"] = {"events_written": 3, "spool": {"bad_lines": 0}}
    return [*lines, summary]


REAL = _real_lines()


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1.0, 2.5, -3.0, 2**63 - 1, 2**63, 2**64 - 1, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "a\n", "tool.completed\n", "x.y", "2026-11-29T00:41:52.338Z\n", "info"]),
    st.sampled_from(["logs", "beacon", "claude_code", "otel", "run-1", "beacon.collector.stopped"]),
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = copy.deepcopy(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(line) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = line
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["set", "delete", "add", "edge", "edge"]))
        value = parent[path[-1]]
        if action == "edge" and isinstance(value, str):
            # What a pattern's "$" (before a final newline) or minLength would let through.
            parent[path[-1]] = draw(st.sampled_from([value + "\n", "", value.upper()]))
        elif action == "edge" and isinstance(value, int) and not isinstance(value, bool):
            # Past 64 bits (orjson reads a float), an integral float, a bool, a negative.
            parent[path[-1]] = draw(
                st.sampled_from([value + 2**64, value + 2**63, float(value), True, -1 - value])
            )
        elif action in ("set", "edge"):
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
    # json writes integers of any size and floats as "1.0"; orjson could not.
    raw = json.dumps(line, ensure_ascii=draw(st.booleans())).encode()
    if draw(st.booleans()) and raw.endswith(b"}"):
        # A duplicated key: both decoders keep the last, msgspec checks both.
        key = draw(st.sampled_from(sorted(line)))
        raw = raw[:-1] + b', "' + key.encode() + b'": ' + json.dumps(draw(values)).encode() + b"}"
    return raw


def _usual_accepts(raw: bytes) -> bool:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(line, dict) and validate_line(line) is None


@PROPERTY
@given(raws=st.lists(mutated(), min_size=1, max_size=4))
def test_what_the_typed_check_accepts_the_usual_check_accepts(raws: list[bytes]) -> None:
    assert TYPED is not None
    for raw in raws:
        if TYPED(raw) is not None:
            assert _usual_accepts(raw), raw
    typed = LogScan.part("run-1", HARNESSES, TYPED)
    usual = LogScan.part("run-1", HARNESSES)
    for number, raw in enumerate(raws, start=1):
        typed.add(number, raw)
        usual.add(number, raw)
    assert typed.to_wire() == usual.to_wire()


@PROPERTY
@given(raws=st.lists(mutated() | st.sampled_from(REAL).map(orjson.dumps), max_size=6))
def test_a_whole_file_gets_the_same_verdict(raws: list[bytes]) -> None:
    # validate_log's scan (no session given: the last run in the file counts).
    typed = LogScan(session_id=None, harnesses=HARNESSES, typed=TYPED)
    usual = LogScan(session_id=None, harnesses=HARNESSES)
    for number, raw in enumerate(raws, start=1):
        typed.add(number, raw)
        usual.add(number, raw)
    first = verdict(Path("log"), typed).to_dict()
    second = verdict(Path("log"), usual).to_dict()
    first.pop("generated_at")
    second.pop("generated_at")
    assert first == second


def test_real_lines_take_the_typed_path() -> None:
    # Not a fast path that never runs: every ordinary line is decided by msgspec.
    assert TYPED is not None
    ordinary = [line for line in REAL if "summary" not in line["beacon"]]
    assert all(TYPED(orjson.dumps(line)) is not None for line in ordinary)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1.0}',  # an integral float: the schema's integer, not msgspec's
        b"not json",
        b"[]",
    ],
)
def test_what_msgspec_rejects_goes_to_the_usual_check(raw: bytes) -> None:
    decode = line_decoder({"type": "object", "properties": {"a": {"type": "integer"}}})
    assert decode(raw) is None


def test_a_keyword_it_cannot_express_is_an_error_not_a_skipped_check() -> None:
    for schema in (
        {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}},
        {"type": "object", "properties": {"a": {"type": ["string", "null"]}}},
        {"type": "object", "properties": {"a": {"enum": [1, 2]}}},
        {"type": "object", "properties": {"a": {}}, "additionalProperties": {"type": "string"}},
    ):
        with pytest.raises(UnsupportedSchema):
            build_line_type(schema)
    build_line_type(load_schema())


@pytest.mark.parametrize(
    "sequence", [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 3.0, True, "3"]
)
def test_a_counted_integer_at_the_edges_is_counted_the_same(sequence: Any) -> None:
    # orjson reads integers outside 64 bits as floats, which the count then skips.
    line = copy.deepcopy(next(x for x in REAL if "sequence" in x["beacon"].get("source", {})))
    line["beacon"]["source"]["sequence"] = sequence
    raw = json.dumps(line).encode()
    typed = LogScan.part("run-1", HARNESSES, TYPED)
    usual = LogScan.part("run-1", HARNESSES)
    typed.add(1, raw)
    usual.add(1, raw)
    assert typed.to_wire() == usual.to_wire()
