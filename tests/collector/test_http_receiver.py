"""OTLP/HTTP receiver: encodings, compression, chunking, limits, auth, error statuses."""

from __future__ import annotations

import asyncio
import gzip
import os
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from beacon.collector import Collector
from beacon.otlp.codec import encode_spool_line, request_to_dict

from .conftest import TOKEN, MakeCollector, data_lines, raw_data_lines
from .otlp_fixtures import CLAUDE, load_request

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=30)


@pytest.fixture(scope="module")
def logs_request() -> Any:
    return load_request(CLAUDE / "logs.http-protobuf.json")


async def post(
    collector: Collector,
    path: str,
    data: Any,
    content_type: str | None = PROTOBUF,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    base = collector.status_url.removesuffix("/beacon/status")
    async with (
        aiohttp.ClientSession(timeout=CLIENT_TIMEOUT, auto_decompress=False) as session,
        session.post(base + path, data=data, headers=all_headers) as resp,
    ):
        return resp.status, await resp.read(), dict(resp.headers)


async def test_protobuf_export_is_acknowledged_and_spooled(
    make_collector: MakeCollector, logs_request: Any
) -> None:
    collector = await make_collector()
    status, body, headers = await post(collector, "/v1/logs", logs_request.SerializeToString())
    assert status == 200
    assert headers["Content-Type"].startswith(PROTOBUF)
    assert ExportLogsServiceResponse.FromString(body) == ExportLogsServiceResponse()
    assert raw_data_lines(collector) == [encode_spool_line("logs", logs_request)]
    assert collector.status()["records"]["logs"] == 7


async def test_json_export_gives_the_same_line_and_a_json_response(
    make_collector: MakeCollector, logs_request: Any
) -> None:
    collector = await make_collector()
    body_json = orjson.dumps(request_to_dict("logs", logs_request))
    status, body, headers = await post(
        collector, "/v1/logs", body_json, content_type="application/json; charset=utf-8"
    )
    assert status == 200
    assert headers["Content-Type"].startswith(JSON)
    assert orjson.loads(body) == {}
    assert raw_data_lines(collector) == [encode_spool_line("logs", logs_request)]


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b, wbits=-zlib.MAX_WBITS)),
        ("identity", lambda b: b),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "identity"],
)
async def test_content_encodings(
    make_collector: MakeCollector, logs_request: Any, coding: str, compress: Any
) -> None:
    collector = await make_collector()
    body = compress(logs_request.SerializeToString())
    status, _, _ = await post(collector, "/v1/logs", body, headers={"Content-Encoding": coding})
    assert status == 200
    assert raw_data_lines(collector) == [encode_spool_line("logs", logs_request)]


async def test_multi_member_gzip_body(make_collector: MakeCollector, logs_request: Any) -> None:
    collector = await make_collector()
    data = logs_request.SerializeToString()
    body = gzip.compress(data[:100]) + gzip.compress(data[100:])
    status, _, _ = await post(collector, "/v1/logs", body, headers={"Content-Encoding": "gzip"})
    assert status == 200
    assert raw_data_lines(collector) == [encode_spool_line("logs", logs_request)]


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_chunked_body_without_content_length(
    make_collector: MakeCollector, logs_request: Any
) -> None:
    collector = await make_collector()
    body = gzip.compress(logs_request.SerializeToString())
    status, _, _ = await post(
        collector, "/v1/logs", _chunks(body, 97), headers={"Content-Encoding": "gzip"}
    )
    assert status == 200
    assert raw_data_lines(collector) == [encode_spool_line("logs", logs_request)]


def _status(body: bytes, content_type: str) -> tuple[int, str]:
    if content_type == JSON:
        doc = orjson.loads(body)
        return doc["code"], doc["message"]
    status = status_pb2.Status.FromString(body)
    return status.code, status.message


def _truncated_gzip() -> bytes:
    return gzip.compress(b"\x0a\x00" * 100)[:-12]


GZIP = {"Content-Encoding": "gzip"}
BAD_HEX_SPAN = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}'
ERROR_CASES = [
    # (id, path, body, content type, extra headers, HTTP status, rpc code)
    ("malformed-protobuf", "/v1/logs", b"\x0a\xff\xff\xff\xff\x0fzz", PROTOBUF, {}, 400, 3),
    ("malformed-json", "/v1/traces", b'{"resourceSpans": [', JSON, {}, 400, 3),
    ("json-not-object", "/v1/metrics", b"[]", JSON, {}, 400, 3),
    ("bad-hex-id", "/v1/traces", BAD_HEX_SPAN, JSON, {}, 400, 3),
    ("bad-gzip", "/v1/logs", b"not gzip at all", PROTOBUF, GZIP, 400, 3),
    ("truncated-gzip", "/v1/logs", _truncated_gzip(), PROTOBUF, GZIP, 400, 3),
    ("empty-gzip", "/v1/logs", b"", PROTOBUF, GZIP, 400, 3),
    ("wrong-content-type", "/v1/logs", b"hello", "text/plain", {}, 415, 3),
    ("brotli", "/v1/logs", b"x", PROTOBUF, {"Content-Encoding": "br"}, 415, 3),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "content_type", "headers", "http_status", "rpc_code"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
async def test_bad_requests_get_their_status_and_write_nothing(
    make_collector: MakeCollector,
    logs_request: Any,
    path: str,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
    http_status: int,
    rpc_code: int,
) -> None:
    collector = await make_collector()
    status, resp_body, resp_headers = await post(collector, path, body, content_type, headers)
    assert status == http_status
    encoding = PROTOBUF if content_type == PROTOBUF else JSON
    assert resp_headers["Content-Type"].startswith(encoding)
    code, message = _status(resp_body, encoding)
    assert code == rpc_code
    assert message
    assert data_lines(collector) == []
    # The collector keeps serving.
    status, _, _ = await post(collector, "/v1/logs", logs_request.SerializeToString())
    assert status == 200
    assert len(data_lines(collector)) == 1
    assert sum(collector.status()["rejected"].values()) == 1


async def test_oversize_body_is_413(make_collector: MakeCollector) -> None:
    collector = await make_collector(max_body_bytes=1000)
    status, body, _ = await post(collector, "/v1/logs", b"\x00" * 1001)
    assert status == 413
    assert _status(body, PROTOBUF)[0] == 8
    status, _, _ = await post(collector, "/v1/logs", _chunks(b"\x00" * 5000, 300))
    assert status == 413
    assert data_lines(collector) == []
    assert collector.status()["requests"]["too_large"] == 2


def gzip_bomb(total: int) -> Iterator[bytes]:
    """A valid gzip stream of ``total`` zero bytes (a multiple of 1 MiB) in ~1 KiB per MiB.

    After a full flush deflate forgets its history, so every further MiB of
    zeros compresses to the same bytes: compress one MiB once and repeat it.
    """
    mib = 1 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(mib)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(total // mib):
        crc = zlib.crc32(zeros, crc)
    yield first
    for _ in range(total // mib - 1):
        yield repeat
    # An empty final fixed-Huffman block, then the gzip trailer (CRC32, size mod 2**32).
    yield b"\x03\x00" + struct.pack("<II", crc, total & 0xFFFFFFFF)


def test_gzip_bomb_helper_is_valid_gzip() -> None:
    assert gzip.decompress(b"".join(gzip_bomb(8 << 20))) == bytes(8 << 20)


async def _gzip_bomb(total: int) -> AsyncIterator[bytes]:
    for chunk in gzip_bomb(total):
        yield chunk


async def test_gzip_bomb_is_refused_cheaply(make_collector: MakeCollector) -> None:
    collector = await make_collector(max_body_bytes=4 << 20)
    status, body, _ = await post(
        collector, "/v1/logs", _gzip_bomb(1 << 30), headers={"Content-Encoding": "gzip"}
    )
    assert status == 413
    assert "decompressed body exceeds" in _status(body, PROTOBUF)[1]
    assert data_lines(collector) == []


async def test_gzip_bomb_at_default_limit(make_collector: MakeCollector) -> None:
    collector = await make_collector()
    status, _, _ = await post(
        collector, "/v1/logs", _gzip_bomb(256 << 20), headers={"Content-Encoding": "gzip"}
    )
    assert status == 413


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, 401),
        ("Bearer wrong", 401),
        ("Basic " + TOKEN, 401),
        (TOKEN, 401),
        ("Bearer " + TOKEN, 200),
        ("Bearer%20" + TOKEN, 200),
        ("bearer " + TOKEN, 200),
    ],
    ids=["missing", "wrong", "basic", "no-scheme", "bearer", "percent-encoded", "lower-case"],
)
async def test_bearer_token(
    make_collector: MakeCollector, logs_request: Any, header: str | None, expected: int
) -> None:
    collector = await make_collector(token=TOKEN)
    headers = {} if header is None else {"Authorization": header}
    status, body, _ = await post(
        collector, "/v1/logs", logs_request.SerializeToString(), headers=headers
    )
    assert status == expected
    if expected == 401:
        assert _status(body, PROTOBUF)[0] == 16
        assert data_lines(collector) == []
        assert TOKEN.encode() not in body
    else:
        assert len(data_lines(collector)) == 1


async def test_unknown_path_and_wrong_method(make_collector: MakeCollector) -> None:
    collector = await make_collector()
    status, _, _ = await post(collector, "/v1/profiles", b"")
    assert status == 404
    base = collector.status_url.removesuffix("/beacon/status")
    async with (
        aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session,
        session.get(base + "/v1/logs") as resp,
    ):
        assert resp.status == 405


async def test_spool_write_failure_is_503_with_retry_after(
    make_collector: MakeCollector, logs_request: Any
) -> None:
    collector = await make_collector()
    # Point the spool's descriptor at /dev/full: writes fail with ENOSPC, like a full disk.
    spool_fd = collector._spool._fd
    assert spool_fd is not None
    saved = os.dup(spool_fd)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, spool_fd)
    os.close(full)
    try:
        status, body, headers = await post(collector, "/v1/logs", logs_request.SerializeToString())
        assert status == 503
        assert headers["Retry-After"] == "1"
        assert _status(body, PROTOBUF)[0] == 14
    finally:
        os.dup2(saved, spool_fd)
        os.close(saved)
    assert data_lines(collector) == []
    status, _, _ = await post(collector, "/v1/logs", logs_request.SerializeToString())
    assert status == 200
    assert len(data_lines(collector)) == 1


async def test_status_and_shutdown_endpoints_need_the_token(make_collector: MakeCollector) -> None:
    collector = await make_collector(token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
        async with session.get(collector.status_url) as resp:
            assert resp.status == 401
        async with session.get(collector.status_url, headers=auth) as resp:
            assert resp.status == 200
            doc = await resp.json()
        assert doc["ready"] is True
        assert doc["records"] == {"logs": 0, "metrics": 0, "traces": 0}
        assert doc["in_flight"] == 0
        assert doc["last_receive_at"] is None
        shutdown_url = collector.status_url.replace("/status", "/shutdown")
        async with session.post(shutdown_url) as resp:
            assert resp.status == 401
        assert not collector.shutdown_requested.is_set()
        async with session.post(shutdown_url, headers=auth) as resp:
            assert resp.status == 202
    await asyncio.wait_for(collector.shutdown_requested.wait(), timeout=5)


async def test_http_app_without_otlp_routes(make_collector: MakeCollector) -> None:
    collector = await make_collector(receivers=frozenset({"grpc"}))
    assert set(collector.endpoints) == {"grpc"}
    status, _, _ = await post(collector, "/v1/logs", b"")
    assert status == 404
    async with (
        aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session,
        session.get(collector.status_url) as resp,
    ):
        assert resp.status == 200
