"""Bad input at the receivers: each case gets its status, the collector keeps serving,
and nothing partial reaches the spool.

The short version of the campaign (`nox -s fuzz` runs the Hypothesis part at
length: tests/collector/test_fuzz_receivers.py).
"""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
import os
import socket
import struct
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import grpc
import grpc.aio
import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from beacon.collector import Collector
from beacon.otlp.codec import request_to_dict

from .conftest import TOKEN, MakeCollector, data_lines, spool_lines, until
from .otlp_fixtures import CLAUDE, load_request

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=60)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def good() -> bytes:
    data: bytes = load_request(CLAUDE / "logs.http-protobuf.json").SerializeToString()
    return data


@pytest.fixture(scope="module")
def good_json(good: bytes) -> bytes:
    request = ExportLogsServiceRequest.FromString(good)
    return orjson.dumps(request_to_dict("logs", request))


def _http_base(collector: Collector) -> str:
    return collector.endpoints["http"]


def _port(collector: Collector) -> int:
    return int(_http_base(collector).rsplit(":", 1)[1])


async def post(
    collector: Collector,
    body: Any,
    headers: dict[str, str] | None = None,
    path: str = "/v1/logs",
) -> tuple[int, bytes]:
    all_headers = {"Content-Type": PROTOBUF, **AUTH, **(headers or {})}
    all_headers = {k: v for k, v in all_headers.items() if v is not None}
    if isinstance(body, bytes) and len(body) > 1 << 20:
        body = io.BytesIO(body)  # aiohttp warns about large raw bytes
    async with (
        aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, auto_decompress=False) as session,
        session.post(_http_base(collector) + path, data=body, headers=all_headers) as resp,
    ):
        return resp.status, await resp.read()


async def still_serving(collector: Collector, good: bytes) -> None:
    """A good export is acknowledged and every spool line is whole."""
    before = len(data_lines(collector))
    status, _ = await post(collector, good)
    assert status == 200
    assert len(data_lines(collector)) == before + 1
    spool_lines(collector)  # parses every line; fails on a torn one


# ------------------------------------------------------------------ protobuf


def nested_any_value(depth: int) -> bytes:
    """An ExportLogsServiceRequest whose log body is an AnyValue nested ``depth`` deep."""
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    value = record.body
    for _ in range(depth):
        value = value.array_value.values.add()
    value.string_value = "deep"
    return request.SerializeToString()


def _trace_bytes() -> bytes:
    data: bytes = load_request(CLAUDE / "traces.http-protobuf.json").SerializeToString()
    return data


BAD_PROTOBUF = {
    "random-bytes": (b"\xff\xfe\xfd\xfc" * 64, 400),
    "truncated": (None, 400),  # the good body cut short, built in the test
    "over-nested": (nested_any_value(200), 400),
    "field-of-wrong-wire-type": (b"\x0a\x05\x08\x01", 400),
}


@pytest.mark.parametrize("case", list(BAD_PROTOBUF))
async def test_bad_protobuf(make_collector: MakeCollector, good: bytes, case: str) -> None:
    collector = await make_collector(token=TOKEN)
    body, expected = BAD_PROTOBUF[case]
    if body is None:
        body = good[: len(good) - 7]
    status, response = await post(collector, body)
    assert status == expected
    assert body[:32] not in response or len(body) < 8  # the payload is not echoed
    assert data_lines(collector) == []
    await still_serving(collector, good)


async def test_valid_protobuf_of_another_message_type(
    make_collector: MakeCollector, good: bytes
) -> None:
    """Protobuf carries no type tag: a traces request sent to /v1/logs either fails to
    decode (400) or decodes as a logs request (200, a whole line). Never a 5xx."""
    collector = await make_collector(token=TOKEN)
    status, _ = await post(collector, _trace_bytes())
    assert status in (200, 400)
    assert len(data_lines(collector)) == (1 if status == 200 else 0)
    # And the converse over gRPC's sibling: logs bytes at /v1/traces.
    status, _ = await post(collector, good, path="/v1/traces")
    assert status in (200, 400)
    await still_serving(collector, good)


def test_the_wrong_type_case_is_really_another_type() -> None:
    ExportTraceServiceRequest.FromString(_trace_bytes())  # a valid traces request


# ------------------------------------------------------------------ JSON


def _json_cases(good_json: bytes) -> dict[str, tuple[bytes, int]]:
    doc = orjson.loads(good_json)
    record = doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    huge_int = dict(record, timeUnixNano=str(10**40))
    huge_float = dict(record, timeUnixNano=1e308)
    big_string = dict(record, body={"stringValue": "x" * (4 << 20)})

    def with_record(r: dict[str, Any]) -> bytes:
        return orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [r]}]}]})

    return {
        "not-json": (b"{this is not json", 400),
        "wrong-shape": (b'{"resourceLogs": 5}', 400),
        "array-at-top": (b"[1, 2, 3]", 400),
        "huge-integer": (with_record(huge_int), 400),
        "huge-float-literal": (with_record(huge_float).replace(b"1e308", b"1e999"), 400),
        "deep-nesting": (b'{"resourceLogs":' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
        "invalid-utf8": (good_json.replace(b'"', b'"\xff\xfe', 1), 400),
        "lone-surrogate": (b'{"resourceLogs":[{"schemaUrl":"\\ud800"}]}', 400),
        "huge-string": (with_record(big_string), 200),
    }


JSON_CASES = [
    "not-json",
    "wrong-shape",
    "array-at-top",
    "huge-integer",
    "huge-float-literal",
    "deep-nesting",
    "invalid-utf8",
    "lone-surrogate",
    "huge-string",
]


@pytest.mark.parametrize("case", JSON_CASES)
async def test_bad_json(
    make_collector: MakeCollector, good: bytes, good_json: bytes, case: str
) -> None:
    collector = await make_collector(token=TOKEN)
    body, expected = _json_cases(good_json)[case]
    status, response = await post(collector, body, {"Content-Type": JSON})
    assert status == expected, response[:300]
    if expected == 200:
        (line,) = data_lines(collector)
        value = line["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"]["stringValue"]
        assert value == "x" * (4 << 20)  # kept whole, not cut
    else:
        assert data_lines(collector) == []
        assert len(response) < 2000  # an error message, not the payload echoed
    await still_serving(collector, good)


# ------------------------------------------------------------------ headers


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


HEADER_CASES = {
    # name: (headers, body transform, expected status)
    "content-type-missing": ({"Content-Type": None}, None, 415),
    "content-type-wrong": ({"Content-Type": "text/plain"}, None, 415),
    "content-type-lies-json": ({"Content-Type": JSON}, None, 400),
    "content-type-lies-protobuf": ({"Content-Type": PROTOBUF}, "json", 400),
    "content-encoding-unknown": ({"Content-Encoding": "br"}, None, 415),
    "content-encoding-lies-gzip": ({"Content-Encoding": "gzip"}, None, 400),
    "content-encoding-lies-deflate": ({"Content-Encoding": "deflate"}, None, 400),
    "content-encoding-missing": ({}, "gzip", 400),
    "content-encoding-stacked": ({"Content-Encoding": "gzip, gzip"}, "gzip", 415),
    "gzip-truncated": ({"Content-Encoding": "gzip"}, "gzip-cut", 400),
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
async def test_wrong_missing_and_lying_headers(
    make_collector: MakeCollector, good: bytes, good_json: bytes, case: str
) -> None:
    collector = await make_collector(token=TOKEN)
    headers, transform, expected = HEADER_CASES[case]
    body = {
        None: good,
        "json": good_json,
        "gzip": _gzip(good),
        "gzip-cut": _gzip(good)[:-12],
    }[transform]
    status, _ = await post(collector, body, headers)  # type: ignore[arg-type]
    assert status == expected
    assert data_lines(collector) == []
    await still_serving(collector, good)


# ------------------------------------------------------------------ bombs


def deflate_bomb(total: int, *, gzip_wrapped: bool) -> Iterator[bytes]:
    """``total`` zero bytes (a multiple of 1 MiB), compressed once per MiB and repeated."""
    mib = 1 << 20
    wbits = 16 + zlib.MAX_WBITS if gzip_wrapped else zlib.MAX_WBITS
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(mib)
    yield compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    for _ in range(total // mib - 1):
        yield repeat
    # No trailer: the collector must refuse long before the end anyway.


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compression_bombs_are_refused_in_bounded_time_and_memory(
    make_collector: MakeCollector, good: bytes, coding: str
) -> None:
    limit = 4 << 20
    collector = await make_collector(token=TOKEN, max_body_bytes=limit)
    bomb = deflate_bomb(1 << 30, gzip_wrapped=coding == "gzip")  # 1 GiB inflated
    tracemalloc.start()
    try:
        started = time.monotonic()
        status, response = await post(collector, _stream(bomb), {"Content-Encoding": coding})
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413
    assert b"decompressed body exceeds" in response
    # 1 GiB would take seconds and a gigabyte: a bounded refusal takes neither.
    assert elapsed < 20, f"{elapsed:.1f} s"
    assert peak < 4 * limit, f"peak {peak / 2**20:.1f} MiB traced"
    assert data_lines(collector) == []
    await still_serving(collector, good)


# ------------------------------------------------------------------ size limits


async def test_over_the_limit_with_and_without_content_length(
    make_collector: MakeCollector, good: bytes
) -> None:
    collector = await make_collector(token=TOKEN, max_body_bytes=len(good) - 1)
    status, _ = await post(collector, good)  # Content-Length given
    assert status == 413
    status, _ = await post(collector, _stream(iter([good[:100], good[100:]])))  # chunked
    assert status == 413
    assert data_lines(collector) == []
    collector2 = await make_collector(token=TOKEN)
    await still_serving(collector2, good)


# ------------------------------------------------------------------ raw HTTP


async def exchange(
    collector: Collector, data: bytes, *, half_close: bool = False, limit_s: float = 30
) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(collector))
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), limit_s)
    finally:
        writer.close()
        await writer.wait_closed()


def request_bytes(body: bytes, *, version: str = "1.1", extra: str = "") -> bytes:
    return (
        f"POST /v1/logs HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Type: {PROTOBUF}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def statuses(raw: bytes) -> list[int]:
    """The status of every response in ``raw``, walking heads and Content-Length bodies."""
    found = []
    while raw.startswith(b"HTTP/"):
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        found.append(int(lines[0].split()[1]))
        length = next(
            (
                int(v)
                for k, _, v in (x.partition(b":") for x in lines[1:])
                if k.lower() == b"content-length"
            ),
            0,
        )
        raw = rest[length:]
    return found


async def test_http_1_0_is_served(make_collector: MakeCollector, good: bytes) -> None:
    collector = await make_collector(token=TOKEN)
    raw = await exchange(collector, request_bytes(good, version="1.0"), half_close=False)
    assert statuses(raw) == [200]
    assert len(data_lines(collector)) == 1


async def test_pipelined_requests_are_answered_in_order(
    make_collector: MakeCollector, good: bytes
) -> None:
    collector = await make_collector(token=TOKEN)
    bad = request_bytes(b"\xff\xff\xff")
    last = request_bytes(good, extra="Connection: close\r\n")
    raw = await exchange(collector, request_bytes(good) + bad + last)
    assert statuses(raw) == [200, 400, 200]
    assert len(data_lines(collector)) == 2


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("header-line-of-100-KiB", request_bytes(b"", extra="X-Long: " + "a" * 100_000 + "\r\n")),
        ("ten-thousand-headers", request_bytes(b"", extra="X-H: 1\r\n" * 10_000)),
        ("nul-in-header", request_bytes(b"", extra="X-Nul: a\x00b\r\n")),
        ("bare-lf-smuggling", b"POST /v1/logs HTTP/1.1\nTransfer-Encoding: chunked\n\n0\n\n"),
        (
            "content-length-and-chunked",
            request_bytes(b"", extra="Transfer-Encoding: chunked\r\n"),
        ),
        ("negative-content-length", request_bytes(b"").replace(b"Length: 0", b"Length: -1")),
        ("binary-request-line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 8),
        ("no-version", b"POST /v1/logs\r\n\r\n"),
    ],
)
async def test_absurd_requests_get_a_4xx(
    make_collector: MakeCollector, good: bytes, name: str, data: bytes
) -> None:
    collector = await make_collector(token=TOKEN)
    raw = await exchange(collector, data)
    found = statuses(raw)
    # A 4xx, or (for bytes that are not HTTP at all) the connection closed unanswered.
    assert found or raw == b"", raw[:200]
    assert all(400 <= s < 500 for s in found), found
    assert data_lines(collector) == []
    await still_serving(collector, good)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/logs", 405),
        ("PUT", "/v1/logs", 405),
        ("POST", "/v1/profiles", 404),
        ("POST", "/v1/logs/", 404),
        ("GET", "/", 404),
        ("GET", "/../../etc/passwd", 404),
        ("GET", "/beacon/status/../../etc/passwd", 404),
        ("POST", "/v1//logs", 404),
    ],
)
async def test_wrong_methods_and_paths(
    make_collector: MakeCollector, good: bytes, method: str, path: str, expected: int
) -> None:
    collector = await make_collector(token=TOKEN)
    data = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(good)}\r\n"
        f"Content-Type: {PROTOBUF}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    ).encode() + good
    raw = await exchange(collector, data)
    assert statuses(raw)[:1] == [expected]
    assert data_lines(collector) == []
    await still_serving(collector, good)


# ------------------------------------------------------------------ slow and idle clients


async def test_a_client_trickling_its_body_gets_408_and_holds_nothing(
    make_collector: MakeCollector, good: bytes
) -> None:
    collector = await make_collector(token=TOKEN, body_timeout_s=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(collector))
    try:
        request = request_bytes(good)
        writer.write(request[: len(request) - len(good) + 10])  # headers and 10 bytes
        await writer.drain()
        # Served while the slow one is stuck.
        await still_serving(collector, good)
        raw = await asyncio.wait_for(reader.read(), 10)  # the server answers and closes
    finally:
        writer.close()
    assert statuses(raw) == [408]
    assert collector.status()["requests"]["timed_out"] == 1
    await until(collector, lambda: collector.status()["in_flight"] == 0)
    assert len(data_lines(collector)) == 1


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_a_client_gone_mid_body_is_counted_not_logged_as_an_error(
    make_collector: MakeCollector, good: bytes, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A client killed mid-request (a cancelled job's agent) leaves no traceback behind."""
    collector = await make_collector(token=TOKEN)
    _, writer = await asyncio.open_connection("127.0.0.1", _port(collector))
    request = request_bytes(good)
    writer.write(request[: len(request) - len(good) + 10])  # headers and 10 bytes
    await writer.drain()
    await until(collector, lambda: collector.status()["in_flight"] == 1)
    if how == "reset":
        # SO_LINGER 0: the kernel answers with RST, as for a SIGKILLed process's unread data.
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
    await until(collector, lambda: collector.status()["in_flight"] == 0)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert collector.status()["requests"] == {"client_gone": 1}
    assert sum(collector.status()["rejected"].values()) == 0
    await still_serving(collector, good)
    assert len(data_lines(collector)) == 1


IDLE_CONNECTIONS = int(os.environ.get("BEACON_FUZZ_IDLE_CONNECTIONS", "500"))


async def test_many_idle_connections_do_not_stop_service(
    make_collector: MakeCollector, good: bytes
) -> None:
    collector = await make_collector(token=TOKEN)
    idle = [
        await asyncio.open_connection("127.0.0.1", _port(collector))
        for _ in range(IDLE_CONNECTIONS)
    ]
    try:
        await until(
            collector, lambda: collector.status()["http_connections"] >= IDLE_CONNECTIONS, 30
        )
        await still_serving(collector, good)
    finally:
        for _, writer in idle:
            writer.close()
    await until(collector, lambda: collector.status()["http_connections"] == 0, 30)


# ------------------------------------------------------------------ gRPC


LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


async def _grpc(collector: Collector, body: bytes, method: str = LOGS_METHOD) -> grpc.StatusCode:
    target = collector.endpoints["grpc"].removeprefix("http://")
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(method)
        try:
            await call(body, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=20)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("case", "method", "expected"),
    [
        ("over-limit", LOGS_METHOD, grpc.StatusCode.RESOURCE_EXHAUSTED),
        ("random-bytes", LOGS_METHOD, grpc.StatusCode.INVALID_ARGUMENT),
        ("over-nested", LOGS_METHOD, grpc.StatusCode.INVALID_ARGUMENT),
        ("wrong-method", "/opentelemetry.proto.collector.logs.v1.LogsService/Nope", None),
        ("wrong-service", "/x.Y/Export", None),
        ("good", LOGS_METHOD, grpc.StatusCode.OK),
    ],
)
async def test_grpc_bad_input(
    make_collector: MakeCollector, good: bytes, case: str, method: str, expected: Any
) -> None:
    collector = await make_collector(
        token=TOKEN, receivers=frozenset({"grpc", "http"}), grpc_max_receive_bytes=64 << 10
    )
    body = {
        "over-limit": bytes(65 << 10),
        "random-bytes": b"\xff\xfe\xfd" * 10,
        "over-nested": nested_any_value(200),
    }.get(case, good)
    code = await _grpc(collector, body, method)
    assert code == (expected or grpc.StatusCode.UNIMPLEMENTED)
    assert len(data_lines(collector)) == (1 if case == "good" else 0)
    assert await _grpc(collector, good) == grpc.StatusCode.OK


async def test_cancelled_grpc_calls_leave_nothing_partial(
    make_collector: MakeCollector, good: bytes
) -> None:
    collector = await make_collector(token=TOKEN, receivers=frozenset({"grpc", "http"}))
    target = collector.endpoints["grpc"].removeprefix("http://")
    # Serialized messages concatenated are one message with the repeated fields
    # joined: ~4 MiB, still on the wire when cancelled.
    body = good * ((4 << 20) // len(good))
    async with grpc.aio.insecure_channel(target) as channel:
        export = channel.unary_unary(LOGS_METHOD)
        calls = [
            export(body, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=30)
            for _ in range(8)
        ]
        for call in calls:
            call.cancel()
        results = await asyncio.gather(*calls, return_exceptions=True)
    cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
    assert cancelled + sum(isinstance(r, bytes) for r in results) == len(calls)
    await until(collector, lambda: collector.status()["in_flight"] == 0, 30)
    # A call acknowledged before its cancellation landed is whole; none is half there.
    lines = data_lines(collector)
    assert len(lines) == len(calls) - cancelled
    assert await _grpc(collector, good) == grpc.StatusCode.OK
    spool_lines(collector)
