"""OTLP/gRPC receiver: status codes, compression, limits, auth, port ownership, lazy import."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from beacon.collector import Collector
from beacon.errors import StartupError
from beacon.otlp.codec import encode_spool_line

from .conftest import TOKEN, MakeCollector, data_lines, raw_data_lines
from .otlp_fixtures import CLAUDE, load_request

LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
GRPC = frozenset({"grpc"})


@pytest.fixture(scope="module")
def logs_request() -> Any:
    return load_request(CLAUDE / "logs.grpc.json")


async def grpc_export(
    collector: Collector,
    body: bytes,
    *,
    method: str = LOGS_METHOD,
    token: str | None = None,
    compression: grpc.Compression | None = None,
) -> bytes:
    target = collector.endpoints["grpc"].removeprefix("http://")
    metadata = None if token is None else (("authorization", token),)
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(method)
        response: bytes = await call(body, metadata=metadata, compression=compression, timeout=10)
        return response


async def test_export_is_acknowledged_and_spooled(
    make_collector: MakeCollector, logs_request: Any
) -> None:
    collector = await make_collector(receivers=GRPC)
    response = await grpc_export(collector, logs_request.SerializeToString())
    assert ExportLogsServiceResponse.FromString(response) == ExportLogsServiceResponse()
    assert raw_data_lines(collector) == [encode_spool_line("logs", logs_request)]


async def test_gzip_compressed_message(make_collector: MakeCollector, logs_request: Any) -> None:
    collector = await make_collector(receivers=GRPC)
    await grpc_export(
        collector, logs_request.SerializeToString(), compression=grpc.Compression.Gzip
    )
    assert raw_data_lines(collector) == [encode_spool_line("logs", logs_request)]


async def _expect_code(collector: Collector, code: grpc.StatusCode, body: bytes, **kw: Any) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(collector, body, **kw)
    assert info.value.code() == code
    return info.value.details() or ""


async def test_malformed_protobuf_is_invalid_argument(
    make_collector: MakeCollector, logs_request: Any
) -> None:
    collector = await make_collector(receivers=GRPC)
    details = await _expect_code(
        collector, grpc.StatusCode.INVALID_ARGUMENT, b"\x0a\xff\xff\xff\xff\x0fzz"
    )
    assert "malformed protobuf" in details
    assert data_lines(collector) == []
    await grpc_export(collector, logs_request.SerializeToString())
    assert len(data_lines(collector)) == 1


async def test_unknown_method_is_unimplemented(make_collector: MakeCollector) -> None:
    collector = await make_collector(receivers=GRPC)
    await _expect_code(collector, grpc.StatusCode.UNIMPLEMENTED, b"", method="/nope.Service/Export")


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip], ids=["plain", "gzip"])
async def test_oversize_message_is_resource_exhausted(
    make_collector: MakeCollector, logs_request: Any, compression: grpc.Compression | None
) -> None:
    collector = await make_collector(receivers=GRPC, grpc_max_receive_bytes=2000)
    big = logs_request.SerializeToString()
    assert len(big) > 2000
    await _expect_code(collector, grpc.StatusCode.RESOURCE_EXHAUSTED, big, compression=compression)
    assert data_lines(collector) == []


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED),
        ("Bearer nope", grpc.StatusCode.UNAUTHENTICATED),
        (f"Bearer {TOKEN}", grpc.StatusCode.OK),
        (f"Bearer%20{TOKEN}", grpc.StatusCode.OK),
    ],
    ids=["missing", "wrong", "bearer", "percent-encoded"],
)
async def test_bearer_token_in_metadata(
    make_collector: MakeCollector, logs_request: Any, token: str | None, code: grpc.StatusCode
) -> None:
    collector = await make_collector(receivers=GRPC, token=TOKEN)
    body = logs_request.SerializeToString()
    if code is grpc.StatusCode.OK:
        await grpc_export(collector, body, token=token)
        assert len(data_lines(collector)) == 1
    else:
        details = await _expect_code(collector, code, body, token=token)
        assert TOKEN not in details
        assert data_lines(collector) == []


async def test_spool_write_failure_is_unavailable(
    make_collector: MakeCollector, logs_request: Any
) -> None:
    collector = await make_collector(receivers=GRPC)
    spool_fd = collector._spool._fd
    assert spool_fd is not None
    saved = os.dup(spool_fd)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, spool_fd)
    os.close(full)
    try:
        await _expect_code(collector, grpc.StatusCode.UNAVAILABLE, logs_request.SerializeToString())
    finally:
        os.dup2(saved, spool_fd)
        os.close(saved)
    assert data_lines(collector) == []


async def test_grpc_port_in_use_is_a_startup_error(make_collector: MakeCollector) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(StartupError, match=r"OTLP/gRPC on 127\.0\.0\.1:\d+"):
            await make_collector(receivers=GRPC, grpc_port=port)


async def test_two_collectors_cannot_share_a_grpc_port(make_collector: MakeCollector) -> None:
    """grpc would set SO_REUSEPORT and let both listen; beacon turns it off."""
    first = await make_collector(receivers=GRPC)
    port = int(first.endpoints["grpc"].rsplit(":", 1)[1])
    with pytest.raises(StartupError):
        await make_collector(receivers=GRPC, grpc_port=port)


def test_grpc_is_imported_only_when_the_grpc_receiver_runs(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from beacon.collector import Collector, CollectorConfig

        async def main():
            c = Collector(CollectorConfig(spool_path=Path({str(tmp_path / "s.jsonl")!r})))
            await c.start()
            await c.stop()
            assert "grpc" not in sys.modules, "http-only collector imported grpc"
            g = Collector(CollectorConfig(spool_path=Path({str(tmp_path / "g.jsonl")!r}),
                                          receivers=frozenset({{"grpc"}})))
            await g.start()
            await g.stop()
            assert "grpc" in sys.modules
            print("ok")

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
