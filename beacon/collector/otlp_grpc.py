"""OTLP/gRPC receiver (grpc.aio). Imported only when the gRPC receiver runs.

The three collector services' ``Export`` methods are registered as generic
handlers that receive the raw (already decompressed) request bytes: decoding
them in ``ExportHandler`` is what turns malformed protobuf into
INVALID_ARGUMENT, where grpc's own deserializer would answer INTERNAL.
grpc decompresses gzip-compressed messages itself and enforces
``max_receive_bytes`` (RESOURCE_EXHAUSTED) before the handler runs.
"""

from __future__ import annotations

from typing import Any, Final

import grpc
import grpc.aio

from beacon.collector.export import ExportHandler, Outcome
from beacon.collector.responses import success_body
from beacon.errors import StartupError

#: Full service names of the OTLP collector services (opentelemetry-proto).
SERVICES: Final[dict[str, str]] = {
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
}

GRPC_CODE: Final[dict[Outcome, grpc.StatusCode]] = {
    Outcome.OK: grpc.StatusCode.OK,
    Outcome.PARTIAL_SUCCESS: grpc.StatusCode.OK,
    Outcome.BAD_DATA: grpc.StatusCode.INVALID_ARGUMENT,
    Outcome.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Outcome.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Outcome.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Outcome.UNSUPPORTED_MEDIA_TYPE: grpc.StatusCode.INVALID_ARGUMENT,
    Outcome.TIMED_OUT: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def _authorization(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode("latin-1")
    return None


def _export_method(handler: ExportHandler, signal: str) -> Any:
    async def export(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        async with handler.tracking():
            result = handler.authorize(signal, _authorization(context))
            if result is None:
                result = await handler.export_body(signal, request, "protobuf")
            if not result.ok:
                if result.retry_after_s is not None:
                    # The OTLP spec's RetryInfo would need googleapis protos; a hint suffices.
                    context.set_trailing_metadata((("retry-after", str(result.retry_after_s)),))
                await context.abort(GRPC_CODE[result.outcome], result.message)
            return success_body(signal, result, "protobuf")

    return export


def _generic_handlers(handler: ExportHandler) -> list[grpc.GenericRpcHandler[Any, Any]]:
    handlers = []
    for signal, service in SERVICES.items():
        # No (de)serializers: the method sees and returns raw bytes.
        method = grpc.unary_unary_rpc_method_handler(_export_method(handler, signal))
        handlers.append(grpc.method_handlers_generic_handler(service, {"Export": method}))
    return handlers


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def start_grpc_server(
    handler: ExportHandler, hosts: list[str], port: int, max_receive_bytes: int
) -> tuple[grpc.aio.Server, int]:
    """Start serving on every host at one port (0 = pick one); return (server, port).

    Raises ``StartupError`` when the port cannot be bound.
    """
    options = [
        # grpc sets SO_REUSEPORT by default, which lets a second server share the
        # port and silently split the traffic; beacon wants "port taken" instead.
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", max_receive_bytes),
    ]
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers(_generic_handlers(handler))
    bound = port
    for host in hosts:
        address = _address(host, bound)
        try:
            got = server.add_insecure_port(address)
        except RuntimeError as exc:
            await server.stop(None)
            raise StartupError(
                f"cannot listen for OTLP/gRPC on {address}: {exc}",
                hint="is the port already in use? pick another or use 0",
            ) from None
        if got == 0:
            await server.stop(None)
            raise StartupError(f"cannot listen for OTLP/gRPC on {address}")
        bound = got
    await server.start()
    return server, bound
