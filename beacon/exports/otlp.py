"""``--forward otlp|original``: re-export this run's spool records to another OTLP receiver.

Records go in spool order, one export request per spool line, each retried under the
OTLP rules (HTTP 429/502/503/504 with ``Retry-After``; gRPC UNAVAILABLE and
RESOURCE_EXHAUSTED). Every string value passes the runtime log's redaction first.
beacon's own lifecycle records (scope ``beacon``) are not forwarded: they were never
captured from the job.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beacon.exports.objects import ExportFailure
from beacon.exports.retry import RetryLater, with_retries
from beacon.exports.settings import ForwardTarget
from beacon.pipeline.redact import Counts, Redactor

SIGNALS = {"resourceLogs": "logs", "resourceMetrics": "metrics", "resourceSpans": "traces"}
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})
_RETRYABLE_HTTP = frozenset({429, 502, 503, 504})


@dataclass
class ForwardStats:
    requests: int = 0
    records: int = 0
    rejected: int = 0
    redactions: Counts = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


def redact_strings(node: Any, redactor: Redactor, counts: Counts) -> Any:
    """Every ``stringValue`` (attributes, bodies, resources) redacted, in place; the whole
    string value of an attribute whose key names a secret (``db_password``) too."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "stringValue" and isinstance(value, str):
                node[key] = redactor.redact_text(value, counts)
            else:
                redact_strings(value, redactor, counts)
        name, any_value = node.get("key"), node.get("value")
        if isinstance(name, str) and isinstance(any_value, dict):
            text = any_value.get("stringValue")
            if isinstance(text, str) and text:
                any_value["stringValue"] = redactor.secret_under_key(name, text, counts)
    elif isinstance(node, list):
        for item in node:
            redact_strings(item, redactor, counts)
    return node


def withhold(node: Any, withheld: frozenset[str]) -> Any:
    """Drop the attributes ``--no-prompts``/``--no-tool-details`` withhold, in place.

    The same names the pipeline drops (``beacon.pipeline.content``): Gemini CLI's
    resource carries the ``-p`` prompt in ``process.command_args`` whatever its switches.
    """
    if not withheld:
        return node
    if isinstance(node, dict):
        attributes = node.get("attributes")
        if isinstance(attributes, list):
            node["attributes"] = [
                a for a in attributes if not (isinstance(a, dict) and a.get("key") in withheld)
            ]
        for value in node.values():
            withhold(value, withheld)
    elif isinstance(node, list):
        for item in node:
            withhold(item, withheld)
    return node


def _hex_ids_to_base64(node: Any) -> None:
    # The spool holds ids as hex (OTLP/JSON); protobuf's JSON parser wants base64.
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def is_beacon_record(payload: Mapping[str, Any]) -> bool:
    for resources in payload.values():
        for resource in resources or ():
            for attribute in resource.get("resource", {}).get("attributes", ()):
                if attribute.get("key") == "service.name" and attribute.get("value") == {
                    "stringValue": "beacon"
                }:
                    return True
    return False


def run_records(spool_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(signal, OTLP/JSON request) for each captured spool line, in order."""
    from beacon.spool import read_spool

    for record in read_spool(spool_path):
        if not is_beacon_record(record.payload):
            yield record.signal, record.payload


def _request_class(signal: str) -> Any:
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs

        return logs.ExportLogsServiceRequest, logs.ExportLogsServiceResponse
    if signal == "metrics":
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics

        return metrics.ExportMetricsServiceRequest, metrics.ExportMetricsServiceResponse
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace

    return trace.ExportTraceServiceRequest, trace.ExportTraceServiceResponse


def to_protobuf(signal: str, payload: dict[str, Any]) -> bytes:
    from google.protobuf import json_format

    request_cls, _ = _request_class(signal)
    _hex_ids_to_base64(payload)
    message = json_format.ParseDict(payload, request_cls(), ignore_unknown_fields=True)
    return bytes(message.SerializeToString())


def _rejected(signal: str, response: Any) -> tuple[int, str]:
    partial = response.partial_success
    field_name = {
        "logs": "rejected_log_records",
        "metrics": "rejected_data_points",
        "traces": "rejected_spans",
    }[signal]
    return int(getattr(partial, field_name)), str(partial.error_message)


@dataclass(frozen=True)
class Destination:
    """Where one signal goes: a full URL (HTTP) or host:port (gRPC), with headers."""

    protocol: str
    endpoints: Mapping[str, str]
    headers: tuple[tuple[str, str], ...]


def parse_headers(text: str) -> tuple[tuple[str, str], ...]:
    """``OTEL_EXPORTER_OTLP_HEADERS``: ``k=v,k2=v2`` with URL-encoded values."""
    from urllib.parse import unquote

    pairs = []
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            pairs.append((name.strip(), unquote(value.strip())))
    return tuple(pairs)


def destination_for(target: ForwardTarget, original: Mapping[str, str]) -> Destination | None:
    """``--forward otlp``: the given endpoint; ``original``: the job's own OTEL_EXPORTER_OTLP_*."""
    if target.kind == "otlp":
        base = target.endpoint.rstrip("/")
        if target.protocol == "grpc":
            return Destination(
                "grpc", dict.fromkeys(("logs", "metrics", "traces"), base), target.headers
            )
        return Destination(
            "http/protobuf",
            {s: f"{base}/v1/{s}" for s in ("logs", "metrics", "traces")},
            target.headers,
        )
    protocol = original.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    base = (target.endpoint or original.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")).rstrip("/")
    headers = parse_headers(original.get("OTEL_EXPORTER_OTLP_HEADERS", "")) + target.headers
    endpoints: dict[str, str] = {}
    for signal in ("logs", "metrics", "traces"):
        upper = signal.upper()
        specific = original.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")
        if specific:
            endpoints[signal] = specific
        elif base:
            endpoints[signal] = base if protocol == "grpc" else f"{base}/v1/{signal}"
    if not endpoints:
        return None
    return Destination("grpc" if protocol == "grpc" else "http/protobuf", endpoints, headers)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, min(float(value), 30.0))
    except ValueError:
        return None


class HttpSender:
    def __init__(self, destination: Destination) -> None:
        import aiohttp

        self.destination = destination
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        await self.session.close()

    async def send(self, signal: str, body: bytes) -> tuple[int, str]:
        import aiohttp

        url = self.destination.endpoints[signal]
        headers = {"Content-Type": "application/x-protobuf", **dict(self.destination.headers)}
        try:
            async with self.session.post(url, data=body, headers=headers) as response:
                content = await response.read()
                if response.status in _RETRYABLE_HTTP:
                    raise RetryLater(
                        f"{url}: HTTP {response.status}",
                        delay_s=_retry_after(response.headers.get("Retry-After")),
                    )
                if response.status >= 300:
                    raise ExportFailure(
                        f"{url}: HTTP {response.status}: {content[:200]!r}",
                        "check --forward-endpoint and --forward-header (authentication)",
                    )
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise RetryLater(f"{url}: connection failed: {exc}") from exc
        _, response_cls = _request_class(signal)
        parsed = response_cls()
        if content:
            parsed.ParseFromString(content)
        return _rejected(signal, parsed)


class GrpcSender:
    def __init__(self, destination: Destination) -> None:
        import grpc

        self.destination = destination
        self.channels: dict[str, Any] = {}
        self.grpc = grpc

    def _channel(self, endpoint: str) -> Any:
        channel = self.channels.get(endpoint)
        if channel is None:
            target = endpoint.split("://", 1)[-1]
            if endpoint.startswith("https://"):
                credentials = self.grpc.ssl_channel_credentials()
                channel = self.grpc.aio.secure_channel(target, credentials)
            else:
                channel = self.grpc.aio.insecure_channel(target)
            self.channels[endpoint] = channel
        return channel

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    async def send(self, signal: str, body: bytes) -> tuple[int, str]:
        grpc = self.grpc
        _request_cls, response_cls = _request_class(signal)
        service = {
            "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
            "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
            "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
        }[signal]
        endpoint = self.destination.endpoints[signal]
        call = self._channel(endpoint).unary_unary(
            f"/{service}/Export",
            request_serializer=lambda raw: raw,
            response_deserializer=response_cls.FromString,
        )
        metadata = tuple((k.lower(), v) for k, v in self.destination.headers)
        try:
            response = await call(body, metadata=metadata or None, timeout=30)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                raise RetryLater(f"{endpoint}: gRPC {code.name}: {exc.details()}") from exc
            raise ExportFailure(
                f"{endpoint}: gRPC {code.name}: {exc.details()}",
                "check --forward-endpoint and --forward-header (authentication)",
            ) from exc
        return _rejected(signal, response)


async def forward(
    target: ForwardTarget,
    *,
    spool_path: Path,
    redactor: Redactor,
    original: Mapping[str, str],
    deadline_s: float,
    withheld: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Send every captured record once, in order; the ``result.json`` ``forwards`` entry."""
    destination = destination_for(target, original)
    entry: dict[str, Any] = {"kind": target.kind, "endpoint": target.endpoint or None}
    if destination is None:
        entry.update(status="skipped", error="the job had no OTLP destination of its own")
        return entry
    entry.update(
        endpoint=destination.endpoints.get("logs") or next(iter(destination.endpoints.values())),
        protocol=destination.protocol,
    )
    stats = ForwardStats()
    sender: HttpSender | GrpcSender = (
        GrpcSender(destination) if destination.protocol == "grpc" else HttpSender(destination)
    )
    try:
        for signal, payload in run_records(spool_path):
            if signal not in destination.endpoints:
                continue
            withhold(payload, withheld)
            redact_strings(payload, redactor, stats.redactions)
            body = to_protobuf(signal, payload)
            rejected, message = await with_retries(
                lambda s=signal, b=body: sender.send(s, b),  # type: ignore[misc]
                deadline_s=deadline_s,
            )
            stats.requests += 1
            stats.rejected += rejected
            if message:
                stats.messages.append(message)
    except ExportFailure as exc:
        entry.update(status="failed", error=exc.describe(), requests=stats.requests)
        return entry
    finally:
        await sender.close()
    entry.update(
        status="partial" if stats.rejected else "ok",
        error="; ".join(stats.messages[:3]) or None,
        requests=stats.requests,
        rejected=stats.rejected,
    )
    return entry
