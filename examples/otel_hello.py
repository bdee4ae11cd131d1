"""A tiny OpenTelemetry-instrumented program: one log event, one counter, one span.

It knows nothing about beacon: like any OTLP program, it reads the standard
``OTEL_EXPORTER_OTLP_*`` variables that ``beacon ci exec`` sets for it.

    beacon ci exec --harness otel -- python examples/otel_hello.py
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def exporters() -> tuple[Any, Any, Any]:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPLogExporter(), OTLPMetricExporter(), OTLPSpanExporter()


def main() -> None:
    resource = Resource.create({"service.name": "otel-hello"})
    log_exporter, metric_exporter, span_exporter = exporters()

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[PeriodicExportingMetricReader(metric_exporter)]
    )
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))

    tracer = tracer_provider.get_tracer("otel-hello")
    with tracer.start_as_current_span("say-hello"):
        logger_provider.get_logger("otel-hello").emit(
            body="hello from an instrumented program",
            severity_number=SeverityNumber.INFO,
            event_name="hello",
            attributes={"greeting.target": "world"},
        )
        meter_provider.get_meter("otel-hello").create_counter("hello.count").add(1)
    print("said hello")

    # Shutting down flushes every pending export before the process exits.
    tracer_provider.shutdown()
    meter_provider.shutdown()
    logger_provider.shutdown()


if __name__ == "__main__":
    main()
