"""Emit the records of otel_spec.json through the Python OpenTelemetry SDK, flush, exit.

    python emit_otel.py <otel_spec.json> <run id>

The twin of ``tests/e2e/node/emit.mjs``. The protocol comes from
``OTEL_EXPORTER_OTLP_PROTOCOL``: ``grpc`` or ``http/protobuf`` (the Python SDK has no
OTLP/JSON exporter). Endpoint, headers, compression and metric temporality are read by
the exporters from the standard ``OTEL_EXPORTER_OTLP_*`` variables. Exits 0 only when
every export succeeded.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode

_EXPORTER_MODULES = {
    "grpc": "opentelemetry.exporter.otlp.proto.grpc",
    "http/protobuf": "opentelemetry.exporter.otlp.proto.http",
}


def _exporters(protocol: str) -> tuple[Any, Any, Any]:
    if protocol not in _EXPORTER_MODULES:
        raise SystemExit(f"unsupported OTEL_EXPORTER_OTLP_PROTOCOL={protocol}")
    package = _EXPORTER_MODULES[protocol]
    logs = importlib.import_module(f"{package}._log_exporter")
    metrics = importlib.import_module(f"{package}.metric_exporter")
    traces = importlib.import_module(f"{package}.trace_exporter")
    return logs.OTLPLogExporter(), metrics.OTLPMetricExporter(), traces.OTLPSpanExporter()


class _Counting:
    """Wrap an exporter and count failed exports, so the exit code reports them."""

    failures = 0

    def __init__(self, inner: Any, success: Any) -> None:
        self._inner = inner
        self._success = success

    def export(self, *args: Any, **kwargs: Any) -> Any:
        result = self._inner.export(*args, **kwargs)
        if result != self._success:
            _Counting.failures += 1
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _counting(inner: Any, success: Any) -> Any:
    # Typed Any: the wrapper duck-types whichever exporter class it wraps.
    return _Counting(inner, success)


def main(spec_path: str, run_id: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    log_exporter, metric_exporter, span_exporter = _exporters(protocol)
    resource = Resource.create(
        {"service.name": "e2e-python", "e2e.run.id": run_id, "e2e.client": "python"}
    )

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(_counting(log_exporter, LogRecordExportResult.SUCCESS))
    )
    # Only the shutdown flush exports: one interval never elapses in a run this short.
    reader = PeriodicExportingMetricReader(
        _counting(metric_exporter, MetricExportResult.SUCCESS),
        export_interval_millis=600_000,
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(_counting(span_exporter, SpanExportResult.SUCCESS))
    )

    logger = logger_provider.get_logger("e2e.client")
    for record in spec["logs"]:
        logger.emit(
            body=record["body"],
            severity_text=record["severity_text"],
            severity_number=SeverityNumber(record["severity_number"]),
            attributes=record["attributes"],
        )

    meter = meter_provider.get_meter("e2e.client")
    counter = meter.create_counter(
        spec["counter"]["name"],
        unit=spec["counter"]["unit"],
        description=spec["counter"]["description"],
    )
    for value, attributes in spec["counter"]["adds"]:
        counter.add(value, attributes)
    histogram = meter.create_histogram(
        spec["histogram"]["name"],
        unit=spec["histogram"]["unit"],
        description=spec["histogram"]["description"],
    )
    for value, attributes in spec["histogram"]["records"]:
        histogram.record(value, attributes)

    tracer = tracer_provider.get_tracer("e2e.client")
    for parent_spec in spec["spans"]:
        with tracer.start_as_current_span(
            parent_spec["name"], attributes=parent_spec["attributes"]
        ) as parent:
            parent_context = trace.set_span_in_context(parent)
            for child_spec in parent_spec["children"]:
                child = tracer.start_span(
                    child_spec["name"], context=parent_context, attributes=child_spec["attributes"]
                )
                for event_name in child_spec.get("events", []):
                    child.add_event(event_name)
                if "error" in child_spec:
                    child.set_status(Status(StatusCode.ERROR, child_spec["error"]))
                child.end()

    logger_provider.shutdown()
    meter_provider.shutdown()
    tracer_provider.shutdown()
    return 0 if _Counting.failures == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: emit_otel.py <otel_spec.json> <run id>")
    sys.exit(main(sys.argv[1], sys.argv[2]))
