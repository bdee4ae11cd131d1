"""OTLP/JSON request bodies -> protobuf export requests (reference decoder, off the hot path).

The collector does not use this module: it turns OTLP/JSON straight into
spool lines with ``beacon.otlp.jsoncanon`` (about 10x faster). This decoder
stays for tests and tools that need a protobuf message from OTLP/JSON, and
as the oracle ``jsoncanon`` is checked against.

``json_format`` alone would read ``traceId``/``spanId`` as base64 (OTLP/JSON
spells them as hex) and silently store the wrong bytes, so the ids are
rewritten to base64 first; everything else (int64 as numbers or strings, enums
as ints or names, unknown fields ignored, camelCase or snake_case keys) is
what ``json_format.ParseDict`` already does. This path is colder than the
protobuf one (only ``http/json`` exporters use it), so the simplicity wins.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

import orjson

from beacon.otlp import OtlpDecodeError
from beacon.otlp.codec import parse_protobuf_request, request_type

__all__ = ["parse_json_request", "parse_protobuf_request"]

_TRACE_ID_BYTES: Final = 16
_SPAN_ID_BYTES: Final = 8

# (camelCase, snake_case) spellings: proto3 JSON parsers accept both.
_RESOURCE_KEYS: Final = {
    "logs": (("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs")),
    "metrics": (("resourceMetrics", "resource_metrics"), ("scopeMetrics", "scope_metrics")),
    "traces": (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans")),
}
_ID_KEYS: Final = (
    ("traceId", "trace_id", _TRACE_ID_BYTES),
    ("spanId", "span_id", _SPAN_ID_BYTES),
    ("parentSpanId", "parent_span_id", _SPAN_ID_BYTES),
)
_POINT_KINDS: Final = (
    "gauge",
    "sum",
    "histogram",
    "exponentialHistogram",
    "exponential_histogram",
)


def _items(d: Any, names: tuple[str, str]) -> list[Any]:
    if not isinstance(d, dict):
        return []
    value = d.get(names[0], d.get(names[1]))
    return value if isinstance(value, list) else []


def _fix_ids(obj: Any) -> None:
    """Rewrite the hex ids of one record/span/link/exemplar in place to base64."""
    if not isinstance(obj, dict):
        return
    for camel, snake, size in _ID_KEYS:
        for key in (camel, snake):
            value = obj.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise OtlpDecodeError(f"{camel} must be a hex string, got {type(value).__name__}")
            if value == "":
                del obj[key]
                continue
            try:
                raw = binascii.unhexlify(value)
            except (binascii.Error, ValueError):
                raise OtlpDecodeError(f"{camel} is not hex: {value[:40]!r}") from None
            if len(raw) != size:
                raise OtlpDecodeError(f"{camel} must be {size} bytes ({2 * size} hex digits)")
            obj[key] = base64.b64encode(raw).decode("ascii")


def _records(signal: str, scope: Any) -> list[Any]:
    if signal == "logs":
        return _items(scope, ("logRecords", "log_records"))
    if signal == "traces":
        spans = _items(scope, ("spans", "spans"))
        links = [link for span in spans for link in _items(span, ("links", "links"))]
        return spans + links
    exemplars: list[Any] = []
    for metric in _items(scope, ("metrics", "metrics")):
        if not isinstance(metric, dict):
            continue
        for kind in _POINT_KINDS:
            for point in _items(metric.get(kind), ("dataPoints", "data_points")):
                exemplars.extend(_items(point, ("exemplars", "exemplars")))
    return exemplars


def _hex_ids_to_base64(signal: str, doc: dict[str, Any]) -> None:
    resource_key, scope_key = _RESOURCE_KEYS[signal]
    for resource in _items(doc, resource_key):
        for scope in _items(resource, scope_key):
            for record in _records(signal, scope):
                _fix_ids(record)


def parse_json_request(signal: str, body: bytes) -> Any:
    """Decode an OTLP/JSON export request of ``signal``; raises ``OtlpDecodeError``."""
    cls = request_type(signal)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpDecodeError(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise OtlpDecodeError(f"OTLP/JSON body must be an object, got {type(doc).__name__}")
    _hex_ids_to_base64(signal, doc)
    # Imported here: only tests and tools get this far; the collector never does.
    from google.protobuf import json_format

    try:
        return json_format.ParseDict(doc, cls(), ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise OtlpDecodeError(f"invalid OTLP/JSON {cls.__name__}: {exc}") from None
