"""The one transport-agnostic export handler both receivers call.

Transports only authenticate-by-header, read bytes and map an ``Outcome`` to
their own status (``HTTP_STATUS`` here, the gRPC table in ``otlp_grpc``).
Everything else happens here, once: decode, count, encode the spool line,
write it, classify what went wrong. The spool line is written before the
result is returned, so an ``OK`` means the data is stored.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import unquote

from beacon.collector.stats import Stats
from beacon.errors import SpoolError
from beacon.otlp import OtlpDecodeError
from beacon.otlp.codec import count_records, encode_spool_line, parse_protobuf_request
from beacon.otlp.jsoncanon import canonical_json_line
from beacon.spool import SpoolWriter

Encoding = Literal["protobuf", "json"]

#: Bodies at least this large are decoded and encoded off the event loop, so a
#: big export does not stall the other connections.
OFFLOAD_BYTES: Final = 1 << 20
#: What a 503 asks the client to wait (seconds) before retrying.
RETRY_AFTER_S: Final = 1
#: ``requests`` key of HTTP requests whose client left before its body ended.
CLIENT_GONE: Final = "client_gone"


class Outcome(enum.Enum):
    """How an export request ended; each maps to one HTTP status and one gRPC code."""

    OK = "ok"
    PARTIAL_SUCCESS = "partial_success"
    BAD_DATA = "bad_data"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"
    UNAUTHENTICATED = "unauthenticated"
    #: HTTP only: a Content-Type or Content-Encoding the receiver does not speak.
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    #: HTTP only: the body did not arrive within the body-read timeout.
    TIMED_OUT = "timed_out"


HTTP_STATUS: Final[dict[Outcome, int]] = {
    Outcome.OK: 200,
    Outcome.PARTIAL_SUCCESS: 200,
    Outcome.BAD_DATA: 400,
    Outcome.TOO_LARGE: 413,
    Outcome.UNAVAILABLE: 503,
    Outcome.UNAUTHENTICATED: 401,
    Outcome.UNSUPPORTED_MEDIA_TYPE: 415,
    Outcome.TIMED_OUT: 408,
}

#: google.rpc.Code numbers, used in the Status bodies of HTTP error responses.
RPC_CODE: Final[dict[Outcome, int]] = {
    Outcome.OK: 0,
    Outcome.PARTIAL_SUCCESS: 0,
    Outcome.BAD_DATA: 3,  # INVALID_ARGUMENT
    Outcome.TOO_LARGE: 8,  # RESOURCE_EXHAUSTED
    Outcome.UNAVAILABLE: 14,  # UNAVAILABLE
    Outcome.UNAUTHENTICATED: 16,  # UNAUTHENTICATED
    Outcome.UNSUPPORTED_MEDIA_TYPE: 3,  # INVALID_ARGUMENT
    Outcome.TIMED_OUT: 4,  # DEADLINE_EXCEEDED
}


@dataclass(frozen=True, slots=True)
class ExportResult:
    """``rejected`` > 0 only with PARTIAL_SUCCESS; ``retry_after_s`` only with UNAVAILABLE."""

    outcome: Outcome
    message: str = ""
    rejected: int = 0
    retry_after_s: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.OK, Outcome.PARTIAL_SUCCESS)


def bearer_token_matches(header: str | None, token: str) -> bool:
    """``Bearer <token>``, percent-decoded first: Claude Code sends ``Bearer%20<token>``."""
    if header is None:
        return False
    scheme, _, presented = unquote(header).strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


class ExportHandler:
    """Decode -> spool, for every transport. Lives as long as the collector's spool."""

    def __init__(self, spool: SpoolWriter, stats: Stats, token: str | None) -> None:
        self._spool = spool
        self._stats = stats
        self._token = token

    @asynccontextmanager
    async def tracking(self) -> AsyncIterator[None]:
        """Wrap one export request from arrival to response (feeds ``in_flight``)."""
        self._stats.begin()
        try:
            yield
        finally:
            self._stats.end()

    def authorize(self, signal: str | None, header: str | None) -> ExportResult | None:
        """None when the request may proceed; else the UNAUTHENTICATED result (counted)."""
        if self._token is None or bearer_token_matches(header, self._token):
            return None
        message = "missing bearer token" if header is None else "invalid bearer token"
        return self.reject(signal, Outcome.UNAUTHENTICATED, message)

    def reject(self, signal: str | None, outcome: Outcome, message: str) -> ExportResult:
        """Count and build a refusal the transport found (oversize, bad encoding...)."""
        self._stats.count_outcome(outcome.value)
        if signal is not None:
            self._stats.refused(signal)
        retry = RETRY_AFTER_S if outcome is Outcome.UNAVAILABLE else None
        return ExportResult(outcome, message, retry_after_s=retry)

    def client_gone(self) -> None:
        """Count a request whose client closed the connection before its body ended.

        Not a refusal (nothing was answered, nothing stored): ``requests["client_gone"]``."""
        self._stats.count_outcome(CLIENT_GONE)

    async def export_body(self, signal: str, body: bytes, encoding: Encoding) -> ExportResult:
        """Decode an uncompressed request body and store it."""
        try:
            if len(body) >= OFFLOAD_BYTES:
                line, records = await asyncio.to_thread(_to_line, signal, body, encoding)
            else:
                line, records = _to_line(signal, body, encoding)
        except OtlpDecodeError as exc:
            return self.reject(signal, Outcome.BAD_DATA, str(exc))
        return await self._store(signal, line, records, len(body), count=True)

    async def export(self, signal: str, req: Any, *, internal: bool = False) -> ExportResult:
        """Store an already decoded request. ``internal`` ones (lifecycle) are not counted."""
        line = encode_spool_line(signal, req)
        return await self._store(signal, line, count_records(signal, req), 0, count=not internal)

    async def _store(
        self, signal: str, line: bytes, records: int, body_bytes: int, *, count: bool
    ) -> ExportResult:
        try:
            await self._spool.append(line)
        except SpoolError as exc:
            if not count:
                raise
            return self.reject(signal, Outcome.UNAVAILABLE, f"cannot store the data now: {exc}")
        if count:
            self._stats.count_outcome(Outcome.OK.value)
            self._stats.accepted(signal, records, body_bytes)
        return ExportResult(Outcome.OK)


def _to_line(signal: str, body: bytes, encoding: Encoding) -> tuple[bytes, int]:
    """(spool line, record count) of a request body; raises ``OtlpDecodeError``."""
    if encoding == "json":
        # Straight from the parsed JSON to the canonical line: no protobuf in between.
        return canonical_json_line(signal, body)
    req = parse_protobuf_request(signal, body)
    try:
        line = encode_spool_line(signal, req)
    except (ValueError, TypeError, RecursionError) as exc:
        # orjson refuses nesting deeper than 254 levels (TypeError subclass).
        raise OtlpDecodeError(f"cannot render the request as OTLP/JSON: {exc}") from None
    return line, count_records(signal, req)
