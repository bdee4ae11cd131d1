"""OTLP export requests -> the spool's OTLP/JSON (what the Collector's file exporter writes).

The traversal is written out by hand over the upb messages because
``google.protobuf.json_format`` is about 7x slower and renders ids as base64.
Rules (OTLP/JSON as the OpenTelemetry Collector writes it):

- keys lowerCamelCase; fields holding their default value are left out, except
  fields with explicit presence (oneof members, ``optional``, sub-messages),
  which are written whenever they are set;
- ``traceId``/``spanId``/``parentSpanId`` as lower-case hex; other bytes base64;
- 64-bit integers as decimal strings; 32-bit integers and enums as numbers;
- non-finite doubles as ``"NaN"``/``"Infinity"``/``"-Infinity"``.

Every field of the installed ``opentelemetry-proto`` messages is covered;
``HANDLED_FIELDS`` lists them so a test notices when a proto upgrade adds one.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from beacon.otlp import SIGNALS, OtlpDecodeError

Json = dict[str, Any]

# Newer opentelemetry-proto releases added these fields; older ones (>=1.27 is
# supported) lack them, and reading a missing attribute would raise.
_HAS_KEY_STRINDEX: Final = "key_strindex" in common_pb2.KeyValue.DESCRIPTOR.fields_by_name
_HAS_ENTITY_REFS: Final = "entity_refs" in resource_pb2.Resource.DESCRIPTOR.fields_by_name

_b64 = base64.b64encode


def _double(x: float) -> float | str:
    # orjson would write NaN/Infinity as null; OTLP/JSON spells them as strings.
    if x - x == 0:
        return x
    if x != x:
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def _double_set(x: float) -> bool:
    """A non-presence double is written unless it is +0.0 (upb keeps -0.0 as set)."""
    return x != 0 or math.copysign(1.0, x) < 0


# --------------------------------------------------------------------------- common


def _any_value(v: Any) -> Json:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return {"stringValue": v.string_value}
    if kind == "int_value":
        return {"intValue": str(v.int_value)}
    if kind == "bool_value":
        return {"boolValue": v.bool_value}
    if kind == "double_value":
        return {"doubleValue": _double(v.double_value)}
    if kind == "array_value":
        arr = v.array_value
        return {"arrayValue": {"values": [_any_value(x) for x in arr.values]} if arr.values else {}}
    if kind == "kvlist_value":
        kvl = v.kvlist_value
        return {"kvlistValue": {"values": _attributes(kvl.values)} if kvl.values else {}}
    if kind == "bytes_value":
        return {"bytesValue": _b64(v.bytes_value).decode("ascii")}
    if kind == "string_value_strindex":
        return {"stringValueStrindex": v.string_value_strindex}
    return {}


def _attributes(kvs: Iterable[Any]) -> list[Json]:
    out: list[Json] = []
    append = out.append
    for kv in kvs:
        v = kv.value
        key = kv.key
        # Fast path for the case that dominates real payloads, a keyed non-empty
        # string: a non-empty member of a oneof is the set one, so WhichOneof
        # (the costliest call here) is skipped.
        sv = v.string_value
        if sv and key:
            item: Json = {"key": key, "value": {"stringValue": sv}}
        else:
            item = {"key": key} if key else {}
            if v.WhichOneof("value") is not None or kv.HasField("value"):
                item["value"] = _any_value(v)
        if _HAS_KEY_STRINDEX and kv.key_strindex:
            item["keyStrindex"] = kv.key_strindex
        append(item)
    return out


def _resource(r: Any) -> Json:
    out: Json = {}
    if r.attributes:
        out["attributes"] = _attributes(r.attributes)
    if r.dropped_attributes_count:
        out["droppedAttributesCount"] = r.dropped_attributes_count
    if _HAS_ENTITY_REFS and r.entity_refs:
        out["entityRefs"] = [_entity_ref(e) for e in r.entity_refs]
    return out


def _entity_ref(e: Any) -> Json:
    out: Json = {}
    if e.schema_url:
        out["schemaUrl"] = e.schema_url
    if e.type:
        out["type"] = e.type
    if e.id_keys:
        out["idKeys"] = list(e.id_keys)
    if e.description_keys:
        out["descriptionKeys"] = list(e.description_keys)
    return out


def _scope(s: Any) -> Json:
    out: Json = {}
    if s.name:
        out["name"] = s.name
    if s.version:
        out["version"] = s.version
    if s.attributes:
        out["attributes"] = _attributes(s.attributes)
    if s.dropped_attributes_count:
        out["droppedAttributesCount"] = s.dropped_attributes_count
    return out


def _resource_level(
    items: Iterable[Any], scope_field: str, scope_key: str, convert_scope: Callable[[Any], Json]
) -> list[Json]:
    """ResourceLogs/ResourceMetrics/ResourceSpans share one shape: resource, scopes, schemaUrl."""
    out: list[Json] = []
    for item in items:
        d: Json = {}
        if item.HasField("resource"):
            d["resource"] = _resource(item.resource)
        scopes = getattr(item, scope_field)
        if scopes:
            d[scope_key] = [convert_scope(s) for s in scopes]
        if item.schema_url:
            d["schemaUrl"] = item.schema_url
        out.append(d)
    return out


def _scope_level(
    s: Any, records_field: str, records_key: str, convert: Callable[[Any], Json]
) -> Json:
    d: Json = {}
    if s.HasField("scope"):
        d["scope"] = _scope(s.scope)
    records = getattr(s, records_field)
    if records:
        d[records_key] = [convert(r) for r in records]
    if s.schema_url:
        d["schemaUrl"] = s.schema_url
    return d


# --------------------------------------------------------------------------- logs


def _log_record(r: Any) -> Json:
    d: Json = {}
    if r.time_unix_nano:
        d["timeUnixNano"] = str(r.time_unix_nano)
    if r.observed_time_unix_nano:
        d["observedTimeUnixNano"] = str(r.observed_time_unix_nano)
    if r.severity_number:
        d["severityNumber"] = r.severity_number
    if r.severity_text:
        d["severityText"] = r.severity_text
    body = r.body
    if body.WhichOneof("value") is not None or r.HasField("body"):
        d["body"] = _any_value(body)
    if r.attributes:
        d["attributes"] = _attributes(r.attributes)
    if r.dropped_attributes_count:
        d["droppedAttributesCount"] = r.dropped_attributes_count
    if r.flags:
        d["flags"] = r.flags
    if r.trace_id:
        d["traceId"] = r.trace_id.hex()
    if r.span_id:
        d["spanId"] = r.span_id.hex()
    if r.event_name:
        d["eventName"] = r.event_name
    return d


def _scope_logs(s: Any) -> Json:
    return _scope_level(s, "log_records", "logRecords", _log_record)


def logs_request_to_dict(req: ExportLogsServiceRequest) -> dict[str, Any]:
    """Render an ExportLogsServiceRequest as the file exporter's OTLP/JSON dict."""
    items = _resource_level(req.resource_logs, "scope_logs", "scopeLogs", _scope_logs)
    return {"resourceLogs": items} if items else {}


# --------------------------------------------------------------------------- metrics


def _exemplar(e: Any) -> Json:
    d: Json = {}
    if e.filtered_attributes:
        d["filteredAttributes"] = _attributes(e.filtered_attributes)
    if e.time_unix_nano:
        d["timeUnixNano"] = str(e.time_unix_nano)
    kind = e.WhichOneof("value")
    if kind == "as_double":
        d["asDouble"] = _double(e.as_double)
    elif kind == "as_int":
        d["asInt"] = str(e.as_int)
    if e.span_id:
        d["spanId"] = e.span_id.hex()
    if e.trace_id:
        d["traceId"] = e.trace_id.hex()
    return d


def _point_common(p: Any, d: Json) -> None:
    if p.attributes:
        d["attributes"] = _attributes(p.attributes)
    if p.start_time_unix_nano:
        d["startTimeUnixNano"] = str(p.start_time_unix_nano)
    if p.time_unix_nano:
        d["timeUnixNano"] = str(p.time_unix_nano)


def _number_point(p: Any) -> Json:
    d: Json = {}
    _point_common(p, d)
    kind = p.WhichOneof("value")
    if kind == "as_double":
        d["asDouble"] = _double(p.as_double)
    elif kind == "as_int":
        d["asInt"] = str(p.as_int)
    if p.exemplars:
        d["exemplars"] = [_exemplar(e) for e in p.exemplars]
    if p.flags:
        d["flags"] = p.flags
    return d


def _histogram_point(p: Any) -> Json:
    d: Json = {}
    _point_common(p, d)
    if p.count:
        d["count"] = str(p.count)
    if p.HasField("sum"):
        d["sum"] = _double(p.sum)
    if p.bucket_counts:
        d["bucketCounts"] = [str(c) for c in p.bucket_counts]
    if p.explicit_bounds:
        d["explicitBounds"] = [_double(b) for b in p.explicit_bounds]
    if p.exemplars:
        d["exemplars"] = [_exemplar(e) for e in p.exemplars]
    if p.flags:
        d["flags"] = p.flags
    if p.HasField("min"):
        d["min"] = _double(p.min)
    if p.HasField("max"):
        d["max"] = _double(p.max)
    return d


def _buckets(b: Any) -> Json:
    d: Json = {}
    if b.offset:
        d["offset"] = b.offset
    if b.bucket_counts:
        d["bucketCounts"] = [str(c) for c in b.bucket_counts]
    return d


def _exp_histogram_point(p: Any) -> Json:
    d: Json = {}
    _point_common(p, d)
    if p.count:
        d["count"] = str(p.count)
    if p.HasField("sum"):
        d["sum"] = _double(p.sum)
    if p.scale:
        d["scale"] = p.scale
    if p.zero_count:
        d["zeroCount"] = str(p.zero_count)
    if p.HasField("positive"):
        d["positive"] = _buckets(p.positive)
    if p.HasField("negative"):
        d["negative"] = _buckets(p.negative)
    if p.flags:
        d["flags"] = p.flags
    if p.exemplars:
        d["exemplars"] = [_exemplar(e) for e in p.exemplars]
    if p.HasField("min"):
        d["min"] = _double(p.min)
    if p.HasField("max"):
        d["max"] = _double(p.max)
    if _double_set(p.zero_threshold):
        d["zeroThreshold"] = _double(p.zero_threshold)
    return d


def _quantile(q: Any) -> Json:
    d: Json = {}
    if _double_set(q.quantile):
        d["quantile"] = _double(q.quantile)
    if _double_set(q.value):
        d["value"] = _double(q.value)
    return d


def _summary_point(p: Any) -> Json:
    d: Json = {}
    _point_common(p, d)
    if p.count:
        d["count"] = str(p.count)
    if _double_set(p.sum):
        d["sum"] = _double(p.sum)
    if p.quantile_values:
        d["quantileValues"] = [_quantile(q) for q in p.quantile_values]
    if p.flags:
        d["flags"] = p.flags
    return d


def _points(container: Any, convert: Callable[[Any], Json]) -> Json:
    d: Json = {}
    if container.data_points:
        d["dataPoints"] = [convert(p) for p in container.data_points]
    return d


def _metric(m: Any) -> Json:
    d: Json = {}
    if m.name:
        d["name"] = m.name
    if m.description:
        d["description"] = m.description
    if m.unit:
        d["unit"] = m.unit
    kind = m.WhichOneof("data")
    if kind == "sum":
        s = _points(m.sum, _number_point)
        if m.sum.aggregation_temporality:
            s["aggregationTemporality"] = m.sum.aggregation_temporality
        if m.sum.is_monotonic:
            s["isMonotonic"] = True
        d["sum"] = s
    elif kind == "gauge":
        d["gauge"] = _points(m.gauge, _number_point)
    elif kind == "histogram":
        h = _points(m.histogram, _histogram_point)
        if m.histogram.aggregation_temporality:
            h["aggregationTemporality"] = m.histogram.aggregation_temporality
        d["histogram"] = h
    elif kind == "exponential_histogram":
        e = _points(m.exponential_histogram, _exp_histogram_point)
        if m.exponential_histogram.aggregation_temporality:
            e["aggregationTemporality"] = m.exponential_histogram.aggregation_temporality
        d["exponentialHistogram"] = e
    elif kind == "summary":
        d["summary"] = _points(m.summary, _summary_point)
    if m.metadata:
        d["metadata"] = _attributes(m.metadata)
    return d


def _scope_metrics(s: Any) -> Json:
    return _scope_level(s, "metrics", "metrics", _metric)


def metrics_request_to_dict(req: ExportMetricsServiceRequest) -> dict[str, Any]:
    """Render an ExportMetricsServiceRequest as the file exporter's OTLP/JSON dict."""
    items = _resource_level(req.resource_metrics, "scope_metrics", "scopeMetrics", _scope_metrics)
    return {"resourceMetrics": items} if items else {}


# --------------------------------------------------------------------------- traces


def _span_event(e: Any) -> Json:
    d: Json = {}
    if e.time_unix_nano:
        d["timeUnixNano"] = str(e.time_unix_nano)
    if e.name:
        d["name"] = e.name
    if e.attributes:
        d["attributes"] = _attributes(e.attributes)
    if e.dropped_attributes_count:
        d["droppedAttributesCount"] = e.dropped_attributes_count
    return d


def _span_link(link: Any) -> Json:
    d: Json = {}
    if link.trace_id:
        d["traceId"] = link.trace_id.hex()
    if link.span_id:
        d["spanId"] = link.span_id.hex()
    if link.trace_state:
        d["traceState"] = link.trace_state
    if link.attributes:
        d["attributes"] = _attributes(link.attributes)
    if link.dropped_attributes_count:
        d["droppedAttributesCount"] = link.dropped_attributes_count
    if link.flags:
        d["flags"] = link.flags
    return d


def _span(s: Any) -> Json:
    d: Json = {}
    if s.trace_id:
        d["traceId"] = s.trace_id.hex()
    if s.span_id:
        d["spanId"] = s.span_id.hex()
    if s.trace_state:
        d["traceState"] = s.trace_state
    if s.parent_span_id:
        d["parentSpanId"] = s.parent_span_id.hex()
    if s.flags:
        d["flags"] = s.flags
    if s.name:
        d["name"] = s.name
    if s.kind:
        d["kind"] = s.kind
    if s.start_time_unix_nano:
        d["startTimeUnixNano"] = str(s.start_time_unix_nano)
    if s.end_time_unix_nano:
        d["endTimeUnixNano"] = str(s.end_time_unix_nano)
    if s.attributes:
        d["attributes"] = _attributes(s.attributes)
    if s.dropped_attributes_count:
        d["droppedAttributesCount"] = s.dropped_attributes_count
    if s.events:
        d["events"] = [_span_event(e) for e in s.events]
    if s.dropped_events_count:
        d["droppedEventsCount"] = s.dropped_events_count
    if s.links:
        d["links"] = [_span_link(link) for link in s.links]
    if s.dropped_links_count:
        d["droppedLinksCount"] = s.dropped_links_count
    if s.HasField("status"):
        st: Json = {}
        if s.status.message:
            st["message"] = s.status.message
        if s.status.code:
            st["code"] = s.status.code
        d["status"] = st
    return d


def _scope_spans(s: Any) -> Json:
    return _scope_level(s, "spans", "spans", _span)


def traces_request_to_dict(req: ExportTraceServiceRequest) -> dict[str, Any]:
    """Render an ExportTraceServiceRequest as the file exporter's OTLP/JSON dict."""
    items = _resource_level(req.resource_spans, "scope_spans", "scopeSpans", _scope_spans)
    return {"resourceSpans": items} if items else {}


# --------------------------------------------------------------------------- dispatch

_TO_DICT: Final[dict[str, Callable[[Any], dict[str, Any]]]] = {
    "logs": logs_request_to_dict,
    "metrics": metrics_request_to_dict,
    "traces": traces_request_to_dict,
}


#: Protobuf field names covered above, per message; a test compares this to the descriptors.
HANDLED_FIELDS: Final[dict[str, frozenset[str]]] = {
    "opentelemetry.proto." + name: frozenset(fields.split())
    for name, fields in {
        "common.v1.AnyValue": "string_value bool_value int_value double_value array_value"
        " kvlist_value bytes_value string_value_strindex",
        "common.v1.KeyValue": "key value key_strindex",
        "common.v1.ArrayValue": "values",
        "common.v1.KeyValueList": "values",
        "common.v1.EntityRef": "schema_url type id_keys description_keys",
        "common.v1.InstrumentationScope": "name version attributes dropped_attributes_count",
        "resource.v1.Resource": "attributes dropped_attributes_count entity_refs",
        "collector.logs.v1.ExportLogsServiceRequest": "resource_logs",
        "logs.v1.ResourceLogs": "resource scope_logs schema_url",
        "logs.v1.ScopeLogs": "scope log_records schema_url",
        "logs.v1.LogRecord": "time_unix_nano observed_time_unix_nano severity_number"
        " severity_text body attributes dropped_attributes_count flags trace_id span_id"
        " event_name",
        "collector.metrics.v1.ExportMetricsServiceRequest": "resource_metrics",
        "metrics.v1.ResourceMetrics": "resource scope_metrics schema_url",
        "metrics.v1.ScopeMetrics": "scope metrics schema_url",
        "metrics.v1.Metric": "name description unit gauge sum histogram exponential_histogram"
        " summary metadata",
        "metrics.v1.Gauge": "data_points",
        "metrics.v1.Sum": "data_points aggregation_temporality is_monotonic",
        "metrics.v1.Histogram": "data_points aggregation_temporality",
        "metrics.v1.ExponentialHistogram": "data_points aggregation_temporality",
        "metrics.v1.Summary": "data_points",
        "metrics.v1.NumberDataPoint": "attributes start_time_unix_nano time_unix_nano as_double"
        " as_int exemplars flags",
        "metrics.v1.Exemplar": "filtered_attributes time_unix_nano as_double as_int span_id"
        " trace_id",
        "metrics.v1.HistogramDataPoint": "attributes start_time_unix_nano time_unix_nano count"
        " sum bucket_counts explicit_bounds exemplars flags min max",
        "metrics.v1.ExponentialHistogramDataPoint": "attributes start_time_unix_nano"
        " time_unix_nano count sum scale zero_count positive negative flags exemplars min max"
        " zero_threshold",
        "metrics.v1.ExponentialHistogramDataPoint.Buckets": "offset bucket_counts",
        "metrics.v1.SummaryDataPoint": "attributes start_time_unix_nano time_unix_nano count"
        " sum quantile_values flags",
        "metrics.v1.SummaryDataPoint.ValueAtQuantile": "quantile value",
        "collector.trace.v1.ExportTraceServiceRequest": "resource_spans",
        "trace.v1.ResourceSpans": "resource scope_spans schema_url",
        "trace.v1.ScopeSpans": "scope spans schema_url",
        "trace.v1.Span": "trace_id span_id trace_state parent_span_id flags name kind"
        " start_time_unix_nano end_time_unix_nano attributes dropped_attributes_count events"
        " dropped_events_count links dropped_links_count status",
        "trace.v1.Span.Event": "time_unix_nano name attributes dropped_attributes_count",
        "trace.v1.Span.Link": "trace_id span_id trace_state attributes dropped_attributes_count"
        " flags",
        "trace.v1.Status": "message code",
    }.items()
}


def request_to_dict(signal: str, req: Any) -> dict[str, Any]:
    """Render an export request of ``signal`` ("logs", "metrics", "traces") as OTLP/JSON."""
    try:
        convert = _TO_DICT[signal]
    except KeyError:
        raise ValueError(f"unknown OTLP signal {signal!r}; expected one of {SIGNALS}") from None
    return convert(req)


#: Per signal: (resource list field, its JSON key, scope list field, its JSON key,
#: record list field, its JSON key, record converter).
_LAYOUT: Final[dict[str, tuple[str, bytes, str, bytes, str, bytes, Callable[[Any], Json]]]] = {
    "logs": (
        "resource_logs", b"resourceLogs", "scope_logs", b"scopeLogs",
        "log_records", b"logRecords", _log_record,
    ),
    "metrics": (
        "resource_metrics", b"resourceMetrics", "scope_metrics", b"scopeMetrics",
        "metrics", b"metrics", _metric,
    ),
    "traces": (
        "resource_spans", b"resourceSpans", "scope_spans", b"scopeSpans",
        "spans", b"spans", _span,
    ),
}  # fmt: skip


def encode_spool_line(signal: str, req: Any) -> bytes:
    """One spool line (orjson bytes, no trailing newline) for an export request.

    Byte-identical to ``orjson.dumps(request_to_dict(signal, req))``, but each
    record is serialized as soon as it is built: a big request never holds its
    whole dict tree at once, which keeps the garbage collector from rescanning
    it (2-3x faster on 700-record requests). An empty request still yields its
    signal's top-level key, so every line names its signal.
    """
    if signal not in _LAYOUT:
        raise ValueError(f"unknown OTLP signal {signal!r}; expected one of {SIGNALS}")
    res_field, res_key, scope_field, scope_key, rec_field, rec_key, convert = _LAYOUT[signal]
    dumps = orjson.dumps
    resources: list[bytes] = []
    for item in getattr(req, res_field):
        parts: list[bytes] = []
        if item.HasField("resource"):
            parts.append(b'"resource":' + dumps(_resource(item.resource)))
        scopes = getattr(item, scope_field)
        if scopes:
            encoded_scopes: list[bytes] = []
            for scope in scopes:
                scope_parts: list[bytes] = []
                if scope.HasField("scope"):
                    scope_parts.append(b'"scope":' + dumps(_scope(scope.scope)))
                records = getattr(scope, rec_field)
                if records:
                    body = b",".join([dumps(convert(r)) for r in records])
                    scope_parts.append(b'"' + rec_key + b'":[' + body + b"]")
                if scope.schema_url:
                    scope_parts.append(b'"schemaUrl":' + dumps(scope.schema_url))
                encoded_scopes.append(b"{" + b",".join(scope_parts) + b"}")
            parts.append(b'"' + scope_key + b'":[' + b",".join(encoded_scopes) + b"]")
        if item.schema_url:
            parts.append(b'"schemaUrl":' + dumps(item.schema_url))
        resources.append(b"{" + b",".join(parts) + b"}")
    return b'{"' + res_key + b'":[' + b",".join(resources) + b"]}"


# --------------------------------------------------------------------------- decoding

#: The export request message class of each signal.
REQUEST_TYPES: Final[dict[str, type[Any]]] = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}


def request_type(signal: str) -> type[Any]:
    """The ``Export*ServiceRequest`` class of ``signal``."""
    try:
        return REQUEST_TYPES[signal]
    except KeyError:
        raise ValueError(f"unknown OTLP signal {signal!r}; expected one of {SIGNALS}") from None


def parse_protobuf_request(signal: str, body: bytes) -> Any:
    """Decode a binary protobuf export request; raises ``OtlpDecodeError`` when malformed."""
    cls = request_type(signal)
    try:
        return cls.FromString(body)
    except DecodeError as exc:
        raise OtlpDecodeError(f"malformed protobuf {cls.__name__}: {exc}") from None


def _count_points(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    return 0 if kind is None else len(getattr(metric, kind).data_points)


def count_records(signal: str, req: Any) -> int:
    """Log records, metric data points or spans in an export request."""
    if signal == "logs":
        return sum(len(s.log_records) for r in req.resource_logs for s in r.scope_logs)
    if signal == "metrics":
        return sum(
            _count_points(m)
            for r in req.resource_metrics
            for s in r.scope_metrics
            for m in s.metrics
        )
    if signal == "traces":
        return sum(len(s.spans) for r in req.resource_spans for s in r.scope_spans)
    raise ValueError(f"unknown OTLP signal {signal!r}; expected one of {SIGNALS}")
