"""The OpenTelemetry Python SDK's OTLP exporters, gRPC and HTTP, gzip on and off.

The spool must hold exactly the request the SDK encoded: its line equals the
codec's rendering of the SDK's own ``encode_*`` output for the same batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetrics,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetrics,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from beacon.collector import Collector
from beacon.otlp.codec import encode_spool_line

from .conftest import TOKEN, MakeCollector, raw_data_lines

RESOURCE = Resource.create({"service.name": "sdk-test", "ci.run.id": "42"})


def make_spans() -> Any:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("beacon.tests", "1.0")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        parent.add_event("checkpoint", {"step": 1, "ok": True})
        link = Link(parent.get_span_context(), {"why": "test"})
        with tracer.start_as_current_span("child", links=[link]) as child:
            child.set_attribute("list", ["a", "b"])
            child.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return memory.get_finished_spans()


def make_logs() -> Any:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("beacon.tests", "1.0")
    logger.emit(
        body="claude_code.tool_result",
        attributes={"event.name": "tool_result", "success": "true", "size": 12, "ratio": 0.5},
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        event_name="tool_result",
    )
    logger.emit(body={"nested": {"k": [1, 2.5, "x", b"\x00\x01"]}}, attributes={"b": False})
    provider.shutdown()
    return memory.get_finished_logs()


def make_metrics() -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("beacon.tests", "1.0")
    meter.create_counter("tokens", unit="1").add(5, {"type": "input"})
    meter.create_up_down_counter("queue").add(-3)
    meter.create_histogram("latency", unit="ms").record(12.5, {"op": "x"})
    meter.create_gauge("temp").set(21.5)
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


SIGNALS: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
    "logs": (make_logs, encode_logs),
    "metrics": (make_metrics, encode_metrics),
    "traces": (make_spans, encode_spans),
}
GRPC_EXPORTERS = {"logs": GrpcLogs, "metrics": GrpcMetrics, "traces": GrpcSpans}
HTTP_EXPORTERS = {"logs": HttpLogs, "metrics": HttpMetrics, "traces": HttpSpans}


def _exporter(collector: Collector, transport: str, signal: str, gzip: bool) -> Any:
    headers = {"authorization": f"Bearer {TOKEN}"}
    if transport == "grpc":
        return GRPC_EXPORTERS[signal](
            endpoint=collector.endpoints["grpc"],
            insecure=True,
            headers=headers,
            timeout=10,
            compression=grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression,
        )
    return HTTP_EXPORTERS[signal](
        endpoint=f"{collector.endpoints['http']}/v1/{signal}",
        headers=headers,
        timeout=10,
        compression=HttpCompression.Gzip if gzip else HttpCompression.NoCompression,
    )


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("transport", ["grpc", "http"])
@pytest.mark.parametrize("signal", sorted(SIGNALS))
async def test_sdk_exporter_lands_exactly_in_the_spool(
    make_collector: MakeCollector, signal: str, transport: str, gzip: bool
) -> None:
    collector = await make_collector(receivers=frozenset({"http", "grpc"}), token=TOKEN)
    make_batch, encode = SIGNALS[signal]
    batch = make_batch()
    exporter = _exporter(collector, transport, signal, gzip)
    try:
        result = await asyncio.to_thread(exporter.export, batch)
    finally:
        await asyncio.to_thread(exporter.shutdown)
    assert result.name == "SUCCESS"
    assert raw_data_lines(collector) == [encode_spool_line(signal, encode(batch))]
