"""OTLP/JSON -> spool line without protobuf: the protobuf path's line; json_format as oracle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.otlp import OtlpDecodeError
from beacon.otlp.codec import (
    REQUEST_TYPES,
    count_records,
    encode_spool_line,
    parse_protobuf_request,
    request_to_dict,
)
from beacon.otlp.jsoncanon import canonical_json_line
from tests.jsondecode import parse_json_request

from .otlp_fixtures import CLAUDE, all_fixture_paths, load_request, signal_of
from .test_codec_property import _fill, _wrap

_ID_SIZES = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}
ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _oracle(signal: str, body: bytes) -> tuple[bytes, int] | None:
    """The protobuf path (json_format after hex id rewriting); None when it refuses."""
    try:
        req = parse_json_request(signal, body)
        return encode_spool_line(signal, req), count_records(signal, req)
    except Exception:  # any refusal of the reference counts as refusal
        return None


def _canon(signal: str, body: bytes) -> tuple[bytes, int] | None:
    try:
        return canonical_json_line(signal, body)
    except OtlpDecodeError:
        return None


def _expected(signal: str, req: Any) -> tuple[bytes, int]:
    return encode_spool_line(signal, req), count_records(signal, req)


@pytest.mark.parametrize("path", all_fixture_paths(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixtures_give_the_protobuf_line(path: Path) -> None:
    signal = signal_of(path)
    req = load_request(path)
    body = (
        path.read_bytes()
        if path.parent != CLAUDE or "http-json" in path.name
        else orjson.dumps(request_to_dict(signal, req))
    )
    assert canonical_json_line(signal, body) == _expected(signal, req)


def _client_json(req: Any, *, snake: bool, enum_names: bool, upper_ids: bool) -> Any:
    """The JSON another client could send for ``req``: json_format's spellings, hex ids."""
    doc = json_format.MessageToDict(
        req, preserving_proto_field_name=snake, use_integers_for_enums=not enum_names
    )
    return _hex_ids(doc, upper_ids)


def _hex_ids(obj: Any, upper: bool) -> Any:
    import base64

    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ID_KEYS:
                h = base64.b64decode(v).hex()
                out[k] = h.upper() if upper else h
            else:
                out[k] = _hex_ids(v, upper)
        return out
    if isinstance(obj, list):
        return [_hex_ids(x, upper) for x in obj]
    return obj


def _valid_ids(req: Any) -> Any:
    """OTLP/JSON ids must have their exact length: fix the generated ones."""
    for field, value in list(req.ListFields()):
        if field.type == field.TYPE_BYTES and field.name in _ID_SIZES:
            size = _ID_SIZES[field.name]
            setattr(req, field.name, (value * size)[:size] if value else b"")
        elif field.type == field.TYPE_MESSAGE:
            for sub in value if field.is_repeated else [value]:
                _valid_ids(sub)
    return req


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    signal=st.sampled_from(sorted(REQUEST_TYPES)),
    data=st.data(),
    snake=st.booleans(),
    enum_names=st.booleans(),
    upper_ids=st.booleans(),
    whole=st.booleans(),
)
def test_json_line_equals_protobuf_line(
    signal: str, data: st.DataObject, snake: bool, enum_names: bool, upper_ids: bool, whole: bool
) -> None:
    """For generated requests, the JSON path's line is the protobuf path's line."""
    if whole:
        req = REQUEST_TYPES[signal]()
        _fill(req, data.draw, 0)
    else:
        req = _wrap(signal, data.draw)
    req = parse_protobuf_request(signal, _valid_ids(req).SerializeToString())
    expected = _expected(signal, req)
    # What the collector writes, read back: the spool line is valid OTLP/JSON itself.
    assert canonical_json_line(signal, expected[0]) == expected
    client = _client_json(req, snake=snake, enum_names=enum_names, upper_ids=upper_ids)
    assert canonical_json_line(signal, json.dumps(client).encode()) == expected


_KEYS = st.sampled_from(
    ["traceId", "spanId", "parentSpanId", "trace_id", "name", "kind", "attributes", "events",
     "links", "startTimeUnixNano", "start_time_unix_nano", "status", "code", "message", "flags",
     "key", "value", "stringValue", "string_value", "intValue", "boolValue", "doubleValue",
     "arrayValue", "array_value", "kvlistValue", "values", "bytesValue", "droppedAttributesCount",
     "timeUnixNano", "body", "severityNumber", "severityText", "eventName", "[ext]", "other"]
)  # fmt: skip

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "0", "1", "-1", "1.5", "1e3", " 2", "NaN", "Infinity", "nan", "AA==",
                       "SPAN_KIND_SERVER", "BOGUS", "ab" * 8, "AB" * 16, "zz", "[x.y]"])
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=10,
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=st.dictionaries(_KEYS, _JSON, max_size=6), as_span=st.booleans())
def test_arbitrary_json_is_refused_or_rendered_like_json_format(
    record: dict[str, Any], as_span: bool
) -> None:
    """Differential: refused exactly when the reference refuses, else the same line and count."""
    if as_span:
        signal, doc = "traces", {"resourceSpans": [{"scopeSpans": [{"spans": [record]}]}]}
    else:
        # The reference's hex pre-pass also checks parentSpanId, unknown in a log record.
        record.pop("parentSpanId", None)
        signal, doc = "logs", {"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}
    body = json.dumps(doc).encode()
    assert _canon(signal, body) == _oracle(signal, body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"resourceSpans": 5}', "must be a list"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', "not hex"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abcd"}]}]}]}', "16 bytes"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": 12}]}]}]}', "hex string"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": 1.5e10}]}]}]}', "range"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 3}]}]}]}', "string"),
        (b'{"resourceSpans": [null]}', "null"),
    ],
)
def test_refusals_say_why(body: bytes, message: str) -> None:
    with pytest.raises(OtlpDecodeError, match=message):
        canonical_json_line("traces", body)


def test_deep_nesting_is_refused_at_json_formats_limit() -> None:
    def body(levels: int) -> bytes:
        return (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": '
            + b'{"arrayValue": {"values": [' * levels
            + b"]}}" * levels
            + b"}]}]}]}"
        )

    # request, ResourceLogs, ScopeLogs, LogRecord, body AnyValue, then 2 messages per array:
    # the innermost ArrayValue of 49 levels is the 101st message.
    ok = body(48)
    assert _canon("logs", ok) == _oracle("logs", ok) is not None
    too_deep = body(49)
    assert _oracle("logs", too_deep) is None
    with pytest.raises(OtlpDecodeError, match="deeper"):
        canonical_json_line("logs", too_deep)


def test_counts_records_of_each_signal() -> None:
    point = {"asInt": "1"}
    metrics = {
        "resourceMetrics": [
            {"scopeMetrics": [{"metrics": [
                {"name": "a", "sum": {"dataPoints": [point, point]}},
                {"name": "b", "histogram": {"dataPoints": [{}]}},
                {"name": "c"},
            ]}]}
        ]
    }  # fmt: skip
    assert canonical_json_line("metrics", orjson.dumps(metrics))[1] == 3
    assert canonical_json_line("logs", b"{}") == (b'{"resourceLogs":[]}', 0)
