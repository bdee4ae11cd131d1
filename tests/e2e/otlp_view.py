"""Flatten OTLP/JSON export requests (spool lines) into plain rows tests can compare.

Pure functions over the dicts :func:`beacon.spool.read_spool` yields. They accept both
spellings OTLP/JSON allows (int64 as a number or a decimal string), so they read the
spool as the collector writes it and raw OTLP/JSON bodies alike.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beacon.spool import read_spool

Attributes = dict[str, Any]
LIFECYCLE_SCOPE = "beacon"


def any_value(value: Mapping[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as a Python value (ints as int, arrays as tuples)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return tuple(any_value(item) for item in value["arrayValue"].get("values", []))
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None


def attributes(key_values: Iterable[Mapping[str, Any]] | None) -> Attributes:
    return {kv["key"]: any_value(kv.get("value", {})) for kv in key_values or ()}


@dataclass(frozen=True)
class LogRow:
    resource: Attributes
    scope: str
    body: Any
    severity_number: int
    severity_text: str
    attributes: Attributes

    @property
    def event_name(self) -> str | None:
        name = self.attributes.get("event.name")
        return name if isinstance(name, str) else None


@dataclass(frozen=True)
class MetricPoint:
    resource: Attributes
    scope: str
    name: str
    unit: str
    kind: str  # "sum" | "gauge" | "histogram" | ...
    temporality: int
    attributes: Attributes
    value: float  # sum/gauge value; for a histogram its sum
    count: int = 0  # histogram count


@dataclass(frozen=True)
class SpanRow:
    resource: Attributes
    scope: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: Attributes
    events: tuple[str, ...]
    status_code: int
    status_message: str


@dataclass
class Capture:
    """Every record of a spool (or a list of payloads), flattened."""

    logs: list[LogRow] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)
    spans: list[SpanRow] = field(default_factory=list)
    export_requests: Counter[str] = field(default_factory=Counter)

    def add(self, signal: str, payload: Mapping[str, Any]) -> None:
        if not _is_beacon_lifecycle(payload):
            self.export_requests[signal] += 1
        if signal == "logs":
            self.logs.extend(_log_rows(payload))
        elif signal == "metrics":
            self.metrics.extend(_metric_points(payload))
        elif signal == "traces":
            self.spans.extend(_span_rows(payload))

    def where(self, **resource: Any) -> Capture:
        """Only the records whose resource carries all the given attributes."""

        def keep(row: LogRow | MetricPoint | SpanRow) -> bool:
            return all(row.resource.get(key) == value for key, value in resource.items())

        return Capture(
            logs=[row for row in self.logs if keep(row)],
            metrics=[row for row in self.metrics if keep(row)],
            spans=[row for row in self.spans if keep(row)],
        )

    def without_beacon(self) -> Capture:
        """The clients' records: beacon's own lifecycle records (scope ``beacon``) left out."""
        return Capture(
            logs=[row for row in self.logs if row.scope != LIFECYCLE_SCOPE],
            metrics=self.metrics,
            spans=self.spans,
            export_requests=self.export_requests,
        )

    def lifecycle(self) -> list[LogRow]:
        """beacon's own lifecycle records, in spool order."""
        return [row for row in self.logs if row.scope == LIFECYCLE_SCOPE]

    def events(self, scope_prefix: str = "") -> list[LogRow]:
        return [row for row in self.logs if row.scope.startswith(scope_prefix)]

    def metric_sums(self) -> dict[tuple[str, tuple[tuple[str, Any], ...]], float]:
        """Points summed per (metric name, attributes): delta points split by export timing."""
        sums: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
        for point in self.metrics:
            key = (point.name, tuple(sorted(point.attributes.items())))
            sums[key] = sums.get(key, 0.0) + point.value
        return sums

    @property
    def record_count(self) -> int:
        return len(self.logs) + len(self.metrics) + len(self.spans)


def capture_spool(path: Path) -> Capture:
    capture = Capture()
    for record in read_spool(path):
        capture.add(record.signal, record.payload)
    return capture


def _is_beacon_lifecycle(payload: Mapping[str, Any]) -> bool:
    return all(
        scope_level.get("scope", {}).get("name") == LIFECYCLE_SCOPE
        for resource_level in payload.get("resourceLogs", [{}])
        for scope_level in resource_level.get("scopeLogs", [{}])
    )


def _levels(
    payload: Mapping[str, Any], resource_key: str, scope_key: str, record_key: str
) -> Iterable[tuple[Attributes, str, Mapping[str, Any]]]:
    for resource_level in payload.get(resource_key, ()):
        resource = attributes(resource_level.get("resource", {}).get("attributes"))
        for scope_level in resource_level.get(scope_key, ()):
            scope = scope_level.get("scope", {}).get("name", "")
            for record in scope_level.get(record_key, ()):
                yield resource, scope, record


def _log_rows(payload: Mapping[str, Any]) -> Iterable[LogRow]:
    for resource, scope, record in _levels(payload, "resourceLogs", "scopeLogs", "logRecords"):
        yield LogRow(
            resource=resource,
            scope=scope,
            body=any_value(record.get("body", {})),
            severity_number=int(record.get("severityNumber", 0)),
            severity_text=record.get("severityText", ""),
            attributes=attributes(record.get("attributes")),
        )


def _metric_points(payload: Mapping[str, Any]) -> Iterable[MetricPoint]:
    for resource, scope, metric in _levels(payload, "resourceMetrics", "scopeMetrics", "metrics"):
        for kind in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
            if kind in metric:
                data = metric[kind]
                break
        else:
            continue
        for point in data.get("dataPoints", ()):
            if kind in ("sum", "gauge"):
                raw = point.get("asDouble", point.get("asInt", 0))
                value, count = float(raw), 0
            else:
                value, count = float(point.get("sum", 0)), int(point.get("count", 0))
            yield MetricPoint(
                resource=resource,
                scope=scope,
                name=metric["name"],
                unit=metric.get("unit", ""),
                kind=kind,
                temporality=int(data.get("aggregationTemporality", 0)),
                attributes=attributes(point.get("attributes")),
                value=value,
                count=count,
            )


def _span_rows(payload: Mapping[str, Any]) -> Iterable[SpanRow]:
    for resource, scope, span in _levels(payload, "resourceSpans", "scopeSpans", "spans"):
        status = span.get("status", {})
        yield SpanRow(
            resource=resource,
            scope=scope,
            name=span["name"],
            trace_id=span.get("traceId", ""),
            span_id=span.get("spanId", ""),
            parent_span_id=span.get("parentSpanId", ""),
            attributes=attributes(span.get("attributes")),
            events=tuple(event.get("name", "") for event in span.get("events", ())),
            status_code=int(status.get("code", 0)),
            status_message=status.get("message", ""),
        )
