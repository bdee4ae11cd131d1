"""OTLP/JSON bodies decode to the right protobuf (hex ids of either case, lenient numbers)."""

from __future__ import annotations

import base64
import contextlib
import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.otlp import OtlpDecodeError
from beacon.otlp.codec import request_to_dict
from tests.jsondecode import parse_json_request

from .otlp_fixtures import CLAUDE, EXAMPLES, load_request


def _span_doc(**span: object) -> bytes:
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


def test_upper_case_hex_ids_decode_to_their_bytes() -> None:
    req = parse_json_request("traces", (EXAMPLES / "trace.json").read_bytes())
    span = req.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex("5B8EFFF798038103D269B633813FC60C")
    assert span.span_id == bytes.fromhex("EEE19B7EC3C1B174")


def test_hex_ids_are_not_read_as_base64() -> None:
    trace_hex = "0123456789abcdef0123456789abcdef"
    req = parse_json_request("traces", _span_doc(traceId=trace_hex, spanId="00" * 8))
    span = req.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == trace_hex
    assert span.trace_id != base64.b64decode(trace_hex)


def test_ids_in_links_log_records_and_exemplars() -> None:
    tid, sid = "AB" * 16, "CD" * 8
    traces = parse_json_request(
        "traces", _span_doc(links=[{"traceId": tid, "spanId": sid}], parentSpanId=sid)
    )
    span = traces.resource_spans[0].scope_spans[0].spans[0]
    assert span.links[0].trace_id == bytes.fromhex(tid)
    assert span.parent_span_id == bytes.fromhex(sid)
    logs = parse_json_request(
        "logs",
        orjson.dumps(
            {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": tid, "spanId": sid}]}]}]}
        ),
    )
    assert logs.resource_logs[0].scope_logs[0].log_records[0].span_id == bytes.fromhex(sid)
    point = {"asInt": 1, "exemplars": [{"traceId": tid, "spanId": sid, "asDouble": 1.5}]}
    metrics = parse_json_request(
        "metrics",
        orjson.dumps(
            {
                "resourceMetrics": [
                    {"scopeMetrics": [{"metrics": [{"name": "m", "sum": {"dataPoints": [point]}}]}]}
                ]
            }
        ),
    )
    exemplar = (
        metrics.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0].exemplars[0]
    )
    assert exemplar.trace_id == bytes.fromhex(tid)


def test_numbers_or_strings_enum_names_or_ints_unknown_fields() -> None:
    a = parse_json_request(
        "traces", _span_doc(name="s", kind=2, startTimeUnixNano=5, futureField={"x": 1})
    )
    b = parse_json_request(
        "traces", _span_doc(name="s", kind="SPAN_KIND_SERVER", startTimeUnixNano="5")
    )
    assert a == b
    assert a.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano == 5


def test_claude_http_json_fixture_matches_its_protobuf_twin_shape() -> None:
    req = load_request(CLAUDE / "logs.http-json.json")
    d = request_to_dict("logs", req)
    records = d["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert records[0]["body"] == {"stringValue": "claude_code.user_prompt"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"resourceSpans": 5}', "invalid OTLP/JSON"),
        (_span_doc(traceId="xyz"), "not hex"),
        (_span_doc(traceId="abcd"), "16 bytes"),
        (_span_doc(spanId=12), "hex string"),
        (_span_doc(startTimeUnixNano="soon"), "invalid OTLP/JSON"),
        (b"\xff\xfe", "malformed JSON"),
    ],
)
def test_malformed_json_raises_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(OtlpDecodeError, match=message):
        parse_json_request("traces", body)


def test_deep_nesting_is_a_decode_error_not_a_crash() -> None:
    body = (
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": '
        + (b'{"arrayValue": {"values": [' * 2000)
        + b"]}}" * 2000
        + b"}]}]}]}"
    )
    with pytest.raises(OtlpDecodeError):
        parse_json_request("logs", body)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    ["traceId", "spanId", "parentSpanId", "name", "kind", "attributes", "events", "links",
     "startTimeUnixNano", "status", "flags", "key", "value", "stringValue", "intValue",
     "arrayValue", "kvlistValue", "values", "bytesValue", "doubleValue"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(span=st.dictionaries(_KEYS, _JSON, max_size=5), top=_JSON)
def test_any_json_decodes_or_raises_decode_error(span: dict[str, object], top: object) -> None:
    """Arbitrary JSON at OTLP positions never escapes as anything but OtlpDecodeError."""
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    # stdlib json: it writes integers beyond 64 bits, which a client may send too.
    for body in (json.dumps(doc).encode(), json.dumps(top).encode()):
        with contextlib.suppress(OtlpDecodeError):
            parse_json_request("traces", body)
