"""The spool codec renders requests exactly as OTLP/JSON (json_format as the oracle)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf.descriptor import Descriptor
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from beacon.otlp import OtlpDecodeError
from beacon.otlp.codec import (
    HANDLED_FIELDS,
    count_records,
    encode_spool_line,
    parse_protobuf_request,
    request_to_dict,
)

from .otlp_fixtures import all_fixture_paths, load_request, oracle_dict, signal_of

FIXTURES = all_fixture_paths()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_codec_matches_json_format_on_fixture(path: Path) -> None:
    req = load_request(path)
    assert request_to_dict(signal_of(path), req) == oracle_dict(req)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spool_line_is_compact_json_of_the_dict(path: Path) -> None:
    signal = signal_of(path)
    req = load_request(path)
    line = encode_spool_line(signal, req)
    assert b"\n" not in line
    # The streaming encoder must be byte-identical to dumping the whole dict.
    assert line == orjson.dumps(request_to_dict(signal, req))


def _walk(descriptor: Descriptor, seen: dict[str, set[str]]) -> None:
    if descriptor.full_name in seen:
        return
    seen[descriptor.full_name] = {f.name for f in descriptor.fields}
    for field in descriptor.fields:
        if field.message_type is not None:
            _walk(field.message_type, seen)


def test_every_proto_field_is_handled() -> None:
    """Fails when an opentelemetry-proto upgrade adds a field the codec does not write."""
    seen: dict[str, set[str]] = {}
    for cls in (ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest):
        _walk(cls.DESCRIPTOR, seen)
    for name, fields in seen.items():
        assert name in HANDLED_FIELDS, name
        assert fields <= HANDLED_FIELDS[name], (name, fields - HANDLED_FIELDS[name])


def test_ids_are_lower_case_hex_and_ints_are_strings() -> None:
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes(range(16))
    span.span_id = b"\xab" * 8
    span.parent_span_id = b"\xcd" * 8
    span.start_time_unix_nano = 2**64 - 1
    span.kind = 3  # type: ignore[assignment]
    span.flags = 257
    d = request_to_dict("traces", req)
    out = d["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert out["traceId"] == "000102030405060708090a0b0c0d0e0f"
    assert out["spanId"] == "abababababababab"
    assert out["parentSpanId"] == "cdcdcdcdcdcdcdcd"
    assert out["startTimeUnixNano"] == "18446744073709551615"
    assert out["kind"] == 3
    assert out["flags"] == 257


def test_non_finite_doubles_are_strings() -> None:
    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    for value in (math.nan, math.inf, -math.inf):
        metric.gauge.data_points.add().as_double = value
    line = encode_spool_line("metrics", req)
    points = orjson.loads(line)["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    assert [p["asDouble"] for p in points["gauge"]["dataPoints"]] == [
        "NaN",
        "Infinity",
        "-Infinity",
    ]


def test_set_but_empty_values_are_kept() -> None:
    """Presence fields (oneof members, optional, sub-messages) are written even when zero."""
    req = ExportLogsServiceRequest()
    record = req.resource_logs.add().scope_logs.add().log_records.add()
    record.body.string_value = ""
    kv = record.attributes.add()
    kv.key = "zero"
    kv.value.int_value = 0
    empty = record.attributes.add()
    empty.key = "unset"
    d = request_to_dict("logs", req)
    assert d == oracle_dict(req)
    out = d["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert out["body"] == {"stringValue": ""}
    assert out["attributes"] == [{"key": "zero", "value": {"intValue": "0"}}, {"key": "unset"}]


def test_histogram_optional_zero_sum_is_written() -> None:
    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    point = metric.histogram.data_points.add()
    point.sum = 0.0
    point.min = 0.0
    assert request_to_dict("metrics", req) == oracle_dict(req)
    out = request_to_dict("metrics", req)["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    assert out["histogram"]["dataPoints"][0] == {"sum": 0.0, "min": 0.0}


def test_empty_request_still_names_its_signal() -> None:
    assert orjson.loads(encode_spool_line("traces", ExportTraceServiceRequest())) == {
        "resourceSpans": []
    }


def test_unknown_signal_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown OTLP signal"):
        request_to_dict("profiles", ExportLogsServiceRequest())


def test_malformed_protobuf_raises_decode_error() -> None:
    with pytest.raises(OtlpDecodeError, match="malformed protobuf"):
        parse_protobuf_request("logs", b"\x0a\xff\xff\xff\xff\x0f garbage")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("claude-code-2.1.197/logs.http-json.json", 7),
        ("claude-code-2.1.197/metrics.http-json.json", 12),
        ("claude-code-2.1.197/traces.http-json.json", 6),
        ("otlp-examples/metrics.json", 4),
    ],
)
def test_count_records(name: str, expected: int) -> None:
    path = next(p for p in FIXTURES if f"{p.parent.name}/{p.name}" == name)
    assert count_records(signal_of(path), load_request(path)) == expected


def _request_of(signal: str, req: Any) -> Any:
    return parse_protobuf_request(signal, req.SerializeToString())


def test_protobuf_round_trip_gives_the_same_line() -> None:
    for path in FIXTURES:
        signal = signal_of(path)
        req = load_request(path)
        assert encode_spool_line(signal, _request_of(signal, req)) == encode_spool_line(signal, req)


def test_negative_zero_doubles_are_kept_like_json_format() -> None:
    """upb treats -0.0 as set (it is not the default +0.0), so OTLP/JSON writes it."""
    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    point = metric.summary.data_points.add()
    point.sum = -0.0
    point.quantile_values.add(quantile=-0.0, value=-0.0)
    req = parse_protobuf_request("metrics", req.SerializeToString())
    out = request_to_dict("metrics", req)
    assert out == oracle_dict(req)
    summary = out["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["summary"]
    assert math.copysign(1.0, summary["dataPoints"][0]["sum"]) < 0
