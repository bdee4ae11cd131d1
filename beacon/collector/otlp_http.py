"""OTLP/HTTP receiver (aiohttp) plus beacon's status/control endpoints.

Routes: ``POST /v1/{logs,metrics,traces}`` (only when the HTTP receiver is
enabled), ``GET /beacon/status`` and ``POST /beacon/shutdown`` (always).

The body is read as a stream and decompressed here, not by aiohttp
(``auto_decompress=False``): the size limit applies to the *decompressed*
bytes and the decompressor never produces more than limit+1 bytes, so a gzip
bomb costs a bounded amount of memory and CPU and ends in 413. Reading the
body is bounded in time too (``body_timeout_s``, 408): a client trickling
bytes cannot hold an export, and the drain waiting for it, open for long.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Any, Final

import orjson
from aiohttp import web

from beacon.collector.export import (
    HTTP_STATUS,
    Encoding,
    ExportHandler,
    ExportResult,
    Outcome,
    bearer_token_matches,
)
from beacon.collector.responses import (
    JSON_CONTENT_TYPE,
    PROTOBUF_CONTENT_TYPE,
    status_body,
    success_body,
)
from beacon.otlp import SIGNALS

_ENCODING_OF_TYPE: Final[dict[str, Encoding]] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
_CONTENT_CODINGS: Final = frozenset({"identity", "gzip", "x-gzip", "deflate"})

STATUS_PATH: Final = "/beacon/status"
SHUTDOWN_PATH: Final = "/beacon/shutdown"


class BodyRefused(Exception):
    """The body cannot be taken: too large, or not decodable as its Content-Encoding says."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


class BoundedInflater:
    """Incremental gzip/deflate decoder that refuses to produce more than ``limit`` bytes."""

    def __init__(self, coding: str, limit: int) -> None:
        self._coding = coding
        self._limit = limit
        self._out = bytearray()
        self._pending = b""
        self._d: Any = None
        if coding in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _start_deflate(self, head: bytes) -> None:
        # "deflate" is meant to be zlib-wrapped, but some clients send raw
        # deflate; the zlib header (CMF/FLG, checksum divisible by 31) tells them apart.
        zlib_wrapped = (head[0] & 0x0F) == 8 and ((head[0] << 8) | head[1]) % 31 == 0
        self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> None:
        if self._d is None:
            self._pending += chunk
            if len(self._pending) < 2:
                return
            self._start_deflate(self._pending)
            chunk, self._pending = self._pending, b""
        data = chunk
        try:
            while data:
                room = self._limit - len(self._out) + 1
                self._out += self._d.decompress(data, room)
                if len(self._out) > self._limit:
                    raise BodyRefused(
                        Outcome.TOO_LARGE,
                        f"decompressed body exceeds the {self._limit}-byte limit",
                    )
                if self._d.eof:
                    data = self._d.unused_data
                    if data and self._coding != "deflate":
                        # gzip allows several members back to back.
                        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    elif data:
                        raise BodyRefused(Outcome.BAD_DATA, "trailing bytes after deflate stream")
                else:
                    data = self._d.unconsumed_tail
        except zlib.error as exc:
            raise BodyRefused(Outcome.BAD_DATA, f"invalid {self._coding} body: {exc}") from None

    def finish(self) -> bytes:
        if self._d is None or not self._d.eof:
            raise BodyRefused(Outcome.BAD_DATA, f"truncated {self._coding} body")
        return bytes(self._out)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, decompressed, at most ``limit`` bytes; raises ``BodyRefused``."""
    coding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if coding not in _CONTENT_CODINGS:
        raise BodyRefused(
            Outcome.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Encoding {coding!r}"
        )
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyRefused(Outcome.TOO_LARGE, f"body of {declared} bytes exceeds {limit} bytes")
    inflater = None if coding == "identity" else BoundedInflater(coding, limit)
    chunks: list[bytes] = []
    received = 0
    content = request.content
    while chunk := await content.readany():
        received += len(chunk)
        # Compressed bodies are bounded too: compression never makes sane data bigger.
        if received > limit:
            raise BodyRefused(Outcome.TOO_LARGE, f"body exceeds the {limit}-byte limit")
        if inflater is None:
            chunks.append(chunk)
        else:
            inflater.feed(chunk)
    if inflater is not None:
        return inflater.finish()
    # A small body usually arrives as one chunk: hand it on without a copy.
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _encoding_of(request: web.Request) -> Encoding | None:
    return _ENCODING_OF_TYPE.get(request.content_type.strip().lower())


def _error_response(
    result: ExportResult, encoding: Encoding | None, *, close: bool = False
) -> web.Response:
    encoding = encoding or "json"
    headers = {}
    if result.retry_after_s is not None:
        headers["Retry-After"] = str(result.retry_after_s)
    response = web.Response(
        status=HTTP_STATUS[result.outcome],
        body=status_body(result, encoding),
        content_type=PROTOBUF_CONTENT_TYPE if encoding == "protobuf" else JSON_CONTENT_TYPE,
        headers=headers,
    )
    if close:
        # Connection: close; aiohttp drops the unread rest for at most its
        # lingering time (collector/daemon.py: _LINGERING_S), then closes.
        response.force_close()
    return response


class OtlpHttpRoutes:
    """The ``/v1/<signal>`` handlers: auth, content negotiation, bounded body, one export call."""

    def __init__(self, handler: ExportHandler, max_body_bytes: int, body_timeout_s: float) -> None:
        self._handler = handler
        self._max_body_bytes = max_body_bytes
        self._body_timeout_s = body_timeout_s

    def make(self, signal: str) -> Callable[[web.Request], Any]:
        async def export(request: web.Request) -> web.Response:
            async with self._handler.tracking():
                return await self._export(signal, request)

        return export

    async def _export(self, signal: str, request: web.Request) -> web.Response:
        encoding = _encoding_of(request)
        # Authenticate before touching the body: strangers must not cost decompression.
        denied = self._handler.authorize(signal, request.headers.get("Authorization"))
        if denied is not None:
            return _error_response(denied, encoding)
        if encoding is None:
            result = self._handler.reject(
                signal,
                Outcome.UNSUPPORTED_MEDIA_TYPE,
                f"unsupported Content-Type {request.content_type!r}; "
                "use application/x-protobuf or application/json",
            )
            return _error_response(result, None)
        try:
            async with asyncio.timeout(self._body_timeout_s):
                body = await read_body(request, self._max_body_bytes)
        except BodyRefused as exc:
            return _error_response(self._handler.reject(signal, exc.outcome, exc.message), encoding)
        except TimeoutError:
            message = f"the request body did not arrive within {self._body_timeout_s:g} s"
            result = self._handler.reject(signal, Outcome.TIMED_OUT, message)
            # The rest of the body may still be on its way: do not read it.
            return _error_response(result, encoding, close=True)
        except ConnectionError:
            # The client went away mid-body (killed, e.g. by a cancelled job): nothing was
            # stored and nobody reads an answer. Unhandled, aiohttp would log a traceback.
            self._handler.client_gone()
            gone = ExportResult(Outcome.BAD_DATA, "the connection closed before the body ended")
            return _error_response(gone, encoding, close=True)
        result = await self._handler.export_body(signal, body, encoding)
        if not result.ok:
            return _error_response(result, encoding)
        return web.Response(
            status=200,
            body=success_body(signal, result, encoding),
            content_type=PROTOBUF_CONTENT_TYPE if encoding == "protobuf" else JSON_CONTENT_TYPE,
        )


class ControlRoutes:
    """``GET /beacon/status`` and ``POST /beacon/shutdown`` (bearer token when configured)."""

    def __init__(
        self, token: str | None, status: Callable[[], dict[str, Any]], shutdown: asyncio.Event
    ) -> None:
        self._token = token
        self._status = status
        self._shutdown = shutdown

    def _denied(self, request: web.Request) -> web.Response | None:
        if self._token is None or bearer_token_matches(
            request.headers.get("Authorization"), self._token
        ):
            return None
        return web.json_response({"error": "missing or invalid bearer token"}, status=401)

    async def status(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        return web.Response(body=orjson.dumps(self._status()), content_type=JSON_CONTENT_TYPE)

    async def shutdown(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        self._shutdown.set()
        return web.json_response({"shutdown": "requested"}, status=202)


def build_app(
    *,
    handler: ExportHandler,
    max_body_bytes: int,
    body_timeout_s: float = 30.0,
    otlp: bool,
    token: str | None,
    status: Callable[[], dict[str, Any]],
    shutdown: asyncio.Event,
) -> web.Application:
    """The collector's aiohttp app; OTLP routes only when ``otlp`` is true."""
    app = web.Application()
    if otlp:
        routes = OtlpHttpRoutes(handler, max_body_bytes, body_timeout_s)
        for signal in SIGNALS:
            app.router.add_post(f"/v1/{signal}", routes.make(signal))
    control = ControlRoutes(token, status, shutdown)
    app.router.add_get(STATUS_PATH, control.status)
    app.router.add_post(SHUTDOWN_PATH, control.shutdown)
    return app
