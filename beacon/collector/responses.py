"""Encode export responses and error statuses, for both transports.

Success is an ``Export*ServiceResponse`` (with ``partial_success`` when
records were refused); failures over HTTP carry a ``google.rpc.Status``. Both
go out in the request's encoding (protobuf or OTLP/JSON).
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from beacon.collector.export import RPC_CODE, Encoding, ExportResult

_RESPONSE: Final[dict[str, Any]] = {
    "logs": ExportLogsServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "traces": ExportTraceServiceResponse,
}
#: The partial_success counter of each signal, proto and JSON spelling.
_REJECTED_FIELD: Final[dict[str, tuple[str, str]]] = {
    "logs": ("rejected_log_records", "rejectedLogRecords"),
    "metrics": ("rejected_data_points", "rejectedDataPoints"),
    "traces": ("rejected_spans", "rejectedSpans"),
}

PROTOBUF_CONTENT_TYPE: Final = "application/x-protobuf"
JSON_CONTENT_TYPE: Final = "application/json"


def success_message(signal: str, result: ExportResult) -> Any:
    """The ``Export*ServiceResponse`` for an accepted request."""
    response = _RESPONSE[signal]()
    if result.rejected or result.message:
        partial = response.partial_success
        setattr(partial, _REJECTED_FIELD[signal][0], result.rejected)
        partial.error_message = result.message
    return response


def success_body(signal: str, result: ExportResult, encoding: Encoding) -> bytes:
    if not (result.rejected or result.message):
        # A plain success is an empty response message in either encoding.
        return b"" if encoding == "protobuf" else b"{}"
    if encoding == "protobuf":
        data: bytes = success_message(signal, result).SerializeToString()
        return data
    body: dict[str, Any] = {}
    if result.rejected or result.message:
        partial: dict[str, Any] = {}
        if result.rejected:
            partial[_REJECTED_FIELD[signal][1]] = str(result.rejected)
        if result.message:
            partial["errorMessage"] = result.message
        body["partialSuccess"] = partial
    return orjson.dumps(body)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def status_body(result: ExportResult, encoding: Encoding) -> bytes:
    """A ``google.rpc.Status`` {code, message}.

    Encoded by hand: googleapis-common-protos, which has the class, is not a
    runtime dependency, and the message has two scalar fields.
    """
    code = RPC_CODE[result.outcome]
    if encoding == "json":
        return orjson.dumps({"code": code, "message": result.message})
    message = result.message.encode()
    out = bytearray()
    if code:
        out += b"\x08" + _varint(code)
    if message:
        out += b"\x12" + _varint(len(message)) + message
    return bytes(out)
