"""TEMPORARY stand-in for beacon.collector.Collector until it is committed; same surface.

Receives OTLP over HTTP (protobuf + JSON) and gRPC on 127.0.0.1 and appends each export
to a spool with beacon's own codec and SpoolWriter. Delete once the real one lands.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from beacon.otlp.codec import encode_spool_line, parse_protobuf_request
from beacon.otlp.jsondecode import parse_json_request
from beacon.spool import SpoolWriter


@dataclass(frozen=True)
class CollectorConfig:
    spool_path: Path
    receivers: frozenset[str] = frozenset({"http", "grpc"})
    token: str | None = None


@dataclass
class Collector:
    config: CollectorConfig
    endpoints: dict[str, str] = field(default_factory=dict)
    _writer: SpoolWriter | None = None
    _runner: web.AppRunner | None = None
    _grpc: Any = None
    _last: float = field(default_factory=time.monotonic)

    def _authorized(self, value: str | None) -> bool:
        token = self.config.token
        return token is None or value in (f"Bearer {token}", f"Bearer%20{token}")

    async def _store(self, signal: str, request: Any) -> None:
        assert self._writer is not None
        await self._writer.append(encode_spool_line(signal, request))
        self._last = time.monotonic()

    async def start(self) -> None:
        self._writer = SpoolWriter(self.config.spool_path)
        await self._writer.open()
        app = web.Application()
        app.router.add_post("/v1/{signal}", self._http)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.endpoints["http"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self._grpc = grpc.aio.server()
        sink = self

        def servicer(base: Any, signal: str, response: Any) -> Any:
            class Servicer(base):  # type: ignore[misc, valid-type]
                async def Export(self, request: Any, context: Any) -> Any:
                    meta = dict(context.invocation_metadata())
                    if not sink._authorized(meta.get("authorization")):
                        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
                    await sink._store(signal, request)
                    return response()

            return Servicer()

        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
            servicer(
                logs_service_pb2_grpc.LogsServiceServicer,
                "logs",
                logs_service_pb2.ExportLogsServiceResponse,
            ),
            self._grpc,
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            servicer(
                metrics_service_pb2_grpc.MetricsServiceServicer,
                "metrics",
                metrics_service_pb2.ExportMetricsServiceResponse,
            ),
            self._grpc,
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            servicer(
                trace_service_pb2_grpc.TraceServiceServicer,
                "traces",
                trace_service_pb2.ExportTraceServiceResponse,
            ),
            self._grpc,
        )
        port = self._grpc.add_insecure_port("127.0.0.1:0")
        await self._grpc.start()
        self.endpoints["grpc"] = f"http://127.0.0.1:{port}"

    async def _http(self, request: web.Request) -> web.Response:
        if not self._authorized(request.headers.get("authorization")):
            return web.Response(status=401)
        signal = request.match_info["signal"]
        body = await request.read()
        if "json" in request.headers.get("Content-Type", ""):
            message = parse_json_request(signal, body)
            await self._store(signal, message)
            return web.json_response({})
        message = parse_protobuf_request(signal, body)
        await self._store(signal, message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def wait_quiet(self, quiet: float, maximum: float) -> None:
        deadline = time.monotonic() + maximum
        while time.monotonic() < deadline:
            if time.monotonic() - self._last >= quiet:
                return
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(None)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._writer is not None:
            await self._writer.close()
