"""Normalization never raises and always yields valid, capped lines, whatever arrives."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.pipeline import PipelineOptions
from beacon.pipeline.chunks import make_protector
from beacon.pipeline.normalize import NormalizeStats, normalize
from beacon.pipeline.redact import Redactor
from beacon.pipeline.runner import make_context
from beacon.pipeline.validate import validate_line

PROPERTY = settings(
    max_examples=int(os.environ.get("BEACON_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OPTIONS = PipelineOptions(
    session_id="run-1", log_path=Path("unused"), max_field_bytes=1024, max_line_bytes=8192
)

_scalars = st.one_of(
    st.builds(lambda s: {"stringValue": s}, st.text(max_size=50)),
    st.builds(lambda b: {"boolValue": b}, st.booleans()),
    st.builds(
        lambda i: {"intValue": i},
        st.one_of(
            st.integers(min_value=-(2**70), max_value=2**70),
            st.text(max_size=25),
            st.integers().map(str),
        ),
    ),
    st.builds(
        lambda d: {"doubleValue": d},
        st.one_of(st.floats(), st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "x"])),
    ),
    st.builds(lambda s: {"bytesValue": s}, st.text(max_size=20)),
    st.just({}),
    st.none(),
    st.integers(),
    st.builds(lambda s: {"stringValue": s}, st.integers() | st.none() | st.lists(st.integers())),
)

any_value = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(children, max_size=6)),
        st.builds(
            lambda kvs: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in kvs]}},
            st.lists(st.tuples(st.text(max_size=12), children), max_size=6),
        ),
        st.builds(lambda v: {"arrayValue": v}, children),
    ),
    max_leaves=25,
)

ATTRIBUTE_KEYS = st.one_of(
    st.sampled_from(
        [
            "event.name",
            "session.id",
            "tool_name",
            "tool_parameters",
            "tool_input",
            "success",
            "duration_ms",
            "input_tokens",
            "cost_usd",
            "model",
            "decision",
            "source",
            "event.sequence",
            "prompt",
            "exit_code",
            "command",
            "status_code",
            "type",
            "full_command",
            "file_path",
        ]
    ),
    st.text(max_size=15),
)
attributes = (
    st.lists(st.fixed_dictionaries({"key": ATTRIBUTE_KEYS, "value": any_value}), max_size=10)
    | st.none()
    | st.integers()
)

EVENT_BODIES = st.one_of(
    st.sampled_from(
        [
            "claude_code.tool_result",
            "claude_code.tool_decision",
            "claude_code.api_request",
            "claude_code.user_prompt",
            "claude_code.api_error",
            "claude_code.mcp_server_connection",
            "claude_code.unknown_thing",
            "beacon.child.exited",
            "beacon.collector.stopped",
            "beacon.child.started",
        ]
    ),
    st.text(max_size=20),
)
SCOPES = st.sampled_from(
    ["com.anthropic.claude_code.events", "com.anthropic.claude_code", "beacon", "my.lib", ""]
)
NANOS = st.one_of(st.integers(min_value=-5, max_value=2**66).map(str), st.integers(), st.none())
IDS = st.one_of(st.text(max_size=40), st.binary(min_size=8, max_size=8).map(bytes.hex), st.none())


def _wrap(resource_key: str, scope_key: str, items_key: str, items: Any, scope: str) -> Any:
    return {
        resource_key: [
            {
                "resource": {
                    "attributes": [{"key": "service.version", "value": {"stringValue": "9"}}]
                },
                scope_key: [{"scope": {"name": scope}, items_key: items}],
            }
        ]
    }


log_records = st.lists(
    st.fixed_dictionaries(
        {"attributes": attributes, "timeUnixNano": NANOS, "traceId": IDS, "spanId": IDS},
        optional={"body": st.one_of(EVENT_BODIES.map(lambda b: {"stringValue": b}), any_value)},
    ),
    max_size=4,
)
spans = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.one_of(st.text(max_size=20), st.just("claude_code.tool"), st.integers()),
            "attributes": attributes,
            "startTimeUnixNano": NANOS,
            "endTimeUnixNano": NANOS,
            "parentSpanId": IDS,
            "status": st.one_of(st.none(), st.fixed_dictionaries({"code": st.integers(0, 3)})),
        }
    ),
    max_size=3,
)
points = st.lists(
    st.fixed_dictionaries(
        {"attributes": attributes, "timeUnixNano": NANOS},
        optional={
            "asDouble": st.one_of(st.floats(), st.text(max_size=5)),
            "asInt": st.one_of(st.integers(), st.text(max_size=5)),
            "sum": st.floats(),
            "count": st.one_of(st.integers(min_value=0, max_value=2**64), st.text(max_size=4)),
        },
    ),
    max_size=3,
)
metrics = st.lists(
    st.builds(
        lambda name, kind, temporality, pts: {
            "name": name,
            kind: {"aggregationTemporality": temporality, "dataPoints": pts},
        },
        st.one_of(st.text(max_size=20), st.just("claude_code.token.usage")),
        st.sampled_from(["sum", "gauge", "histogram", "exponentialHistogram", "summary"]),
        st.one_of(st.integers(-1, 5), st.sampled_from(["AGGREGATION_TEMPORALITY_DELTA", "x"])),
        points,
    ),
    max_size=3,
)

requests = st.lists(
    st.one_of(
        st.tuples(
            st.just("logs"),
            st.builds(
                lambda r, s: _wrap("resourceLogs", "scopeLogs", "logRecords", r, s),
                log_records,
                SCOPES,
            ),
        ),
        st.tuples(
            st.just("traces"),
            st.builds(
                lambda r, s: _wrap("resourceSpans", "scopeSpans", "spans", r, s), spans, SCOPES
            ),
        ),
        st.tuples(
            st.just("metrics"),
            st.builds(
                lambda r, s: _wrap("resourceMetrics", "scopeMetrics", "metrics", r, s),
                metrics,
                SCOPES,
            ),
        ),
        st.tuples(
            st.sampled_from(["logs", "bogus"]),
            st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
        ),
    ),
    max_size=4,
)


def _run(reqs: list[tuple[str, Any]]) -> tuple[list[bytes], NormalizeStats]:
    protector = make_protector(OPTIONS.redaction, OPTIONS.max_field_bytes, OPTIONS.max_line_bytes)
    ctx = make_context(OPTIONS, protector)
    stats = NormalizeStats()
    return [protector.protect(line) for line in normalize(reqs, ctx, stats)], stats


@PROPERTY
@given(reqs=requests)
def test_normalization_never_raises_and_lines_are_valid(reqs: list[tuple[str, Any]]) -> None:
    lines, stats = _run(reqs)
    assert stats.malformed == 0
    for data in lines:
        assert len(data) <= OPTIONS.max_line_bytes
        line = orjson.loads(data)
        assert validate_line(line) is None, (validate_line(line), line)


def _kvlist(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


def test_deep_nesting_and_huge_arrays_stay_within_the_cap() -> None:
    huge = {"arrayValue": {"values": [{"stringValue": "item " * 20}] * 50_000}}
    deep = _kvlist(500)
    record = {
        "body": {"stringValue": "claude_code.tool_result"},
        "attributes": [
            {"key": "deep", "value": deep},
            {"key": "huge", "value": huge},
            {"key": "tool_name", "value": {"stringValue": "Bash"}},
            {"key": "full_command", "value": {"stringValue": "echo ok"}},
        ],
    }
    request = _wrap(
        "resourceLogs", "scopeLogs", "logRecords", [record], "com.anthropic.claude_code.events"
    )
    (data,), stats = _run([("logs", request)])
    assert stats.malformed == 0
    assert len(data) <= OPTIONS.max_line_bytes
    line = orjson.loads(data)
    assert line["command"]["command"] == "echo ok"
    assert line["field_truncated"] is True
    assert validate_line(line) is None


def test_lone_surrogates_and_controls_are_replaced() -> None:
    record = {
        "body": {"stringValue": "claude_code.user_prompt"},
        "attributes": [
            {"key": "prompt\ud800", "value": {"stringValue": "bad \udfff \x1b[2J\x00 ok"}}
        ],
    }
    request = _wrap(
        "resourceLogs", "scopeLogs", "logRecords", [record], "com.anthropic.claude_code.events"
    )
    (data,), _ = _run([("logs", request)])
    line = orjson.loads(data)
    assert line["raw"] == {"prompt\ufffd": "bad \ufffd  ok"}


def test_redaction_stays_linear_on_adversarial_text() -> None:
    redactor = Redactor()
    texts = [
        "x" * 100_000 + "password",
        "-" * 100_000,
        "a_" * 50_000 + "=",
        "mysql " + "a " * 50_000,
        "https://" + "a:" * 50_000,
        "-----BEGIN PRIVATE KEY-----" + "A" * 100_000,
    ]
    started = time.perf_counter()
    for text in texts:
        redactor.redact_text(text, {})
    # Quadratic backtracking would take minutes on these; linear takes well under a second.
    assert time.perf_counter() - started < 10
