"""Ingest throughput and export latency: load generator, collector and floor, each its own process.

    python -m benchmarks.ingest serve  SPOOL [FSYNC]   # a Collector; stops at stdin EOF
    python -m benchmarks.ingest load   URL PROTO N S   # N concurrent clients for S seconds
    python -m benchmarks.ingest floor  PROTO S         # parse + convert + write, one thread

The load generator and the collector run in separate processes so each has a
core of its own; the floor runs alone, after them, on the same payloads.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from benchmarks.workload import log_requests

TOKEN = "bench-token-0123456789"
REQUESTS_IN_ROTATION = 20
RECORDS_PER_REQUEST = 100


def payloads(protocol: str) -> list[bytes]:
    """Pre-encoded bodies: the clients spend no time encoding."""
    from beacon.otlp.codec import request_to_dict

    requests = list(itertools.islice(log_requests(RECORDS_PER_REQUEST), REQUESTS_IN_ROTATION))
    if protocol == "http/json":
        return [orjson.dumps(request_to_dict("logs", r)) for r in requests]
    return [r.SerializeToString() for r in requests]


# ----------------------------------------------------------------------------- serve


async def serve(spool: Path, fsync: str) -> None:
    from beacon.collector import Collector, CollectorConfig

    collector = Collector(
        CollectorConfig(
            spool_path=spool,
            receivers=frozenset({"http", "grpc"}),
            token=TOKEN,
            tune_gc=True,
            fsync=fsync,  # type: ignore[arg-type]  # validated by start()
        )
    )
    await collector.start()
    print(orjson.dumps(collector.endpoints).decode(), flush=True)
    # The orchestrator closes our stdin when the load is over.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    status = collector.status()
    status["spool_syncs"] = collector.spool_syncs
    await collector.stop()
    print(orjson.dumps(status).decode(), flush=True)


# ----------------------------------------------------------------------------- load


def _raw_requests(url: str, protocol: str, bodies: list[bytes]) -> list[bytes]:
    """Whole HTTP/1.1 requests, built once: the client's per-request cost is a write."""
    content_type = "application/json" if protocol == "http/json" else "application/x-protobuf"
    host = url.removeprefix("http://")
    return [
        (
            f"POST /v1/logs HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        + body
        for body in bodies
    ]


async def _read_response(reader: asyncio.StreamReader) -> int:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _http_client(
    url: str, protocol: str, bodies: list[bytes], deadline: float, latencies: list[float]
) -> int:
    # A bare keep-alive connection rather than aiohttp's client: with one client
    # the measurement is a ping-pong, and a heavy client would be measured too.
    host, _, port = url.removeprefix("http://").rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    acknowledged = 0
    try:
        # Every client completes at least one export, however short the run.
        for request in itertools.cycle(_raw_requests(url, protocol, bodies)):
            if acknowledged and time.monotonic() >= deadline:
                break
            started = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            if status != 200:
                raise RuntimeError(f"export refused: HTTP {status}")
            latencies.append(time.perf_counter() - started)
            acknowledged += RECORDS_PER_REQUEST
    finally:
        writer.close()
        await writer.wait_closed()
    return acknowledged


def _grpc_client(channel: Any, bodies: list[bytes], deadline: float, latencies: list[float]) -> int:
    # Blocking calls on a thread, as the OpenTelemetry SDKs' gRPC exporters make them:
    # grpc.aio's client adds event-loop hops to every call, and with one client the
    # measurement is a ping-pong in which a heavy client would be measured too.
    export = channel.unary_unary(
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        request_serializer=None,
        response_deserializer=None,
    )
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    acknowledged = 0
    for body in itertools.cycle(bodies):
        if acknowledged and time.monotonic() >= deadline:
            break
        started = time.perf_counter()
        export(body, metadata=metadata, timeout=30)
        latencies.append(time.perf_counter() - started)
        acknowledged += RECORDS_PER_REQUEST
    return acknowledged


async def load(url: str, protocol: str, clients: int, seconds: float) -> dict[str, Any]:
    bodies = payloads(protocol)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    if protocol == "grpc":
        import grpc

        target = url.removeprefix("http://")
        loop = asyncio.get_running_loop()
        with (
            grpc.insecure_channel(target) as channel,
            ThreadPoolExecutor(max_workers=clients) as threads,
        ):
            counts = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        threads, _grpc_client, channel, bodies, deadline, latencies
                    )
                    for _ in range(clients)
                )
            )
    else:
        counts = await asyncio.gather(
            *(_http_client(url, protocol, bodies, deadline, latencies) for _ in range(clients))
        )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "records": sum(counts),
        "seconds": elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else None,
    }


# ----------------------------------------------------------------------------- floor


def floor(protocol: str, seconds: float) -> dict[str, Any]:
    """What one thread can do with these payloads: decode, convert to the spool line, write."""
    from beacon.gctune import tune_gc_for_serving
    from beacon.otlp.codec import encode_spool_line, parse_protobuf_request
    from beacon.otlp.jsoncanon import canonical_json_line

    bodies = payloads(protocol)
    # The same GC settings as the collector under test (CollectorConfig.tune_gc).
    tune_gc_for_serving()

    def to_line(body: bytes) -> bytes:
        # The collector's own conversion: OTLP/JSON goes straight to the line.
        if protocol == "http/json":
            return canonical_json_line("logs", body)[0]
        return encode_spool_line("logs", parse_protobuf_request("logs", body))

    records = 0
    with tempfile.TemporaryDirectory() as tmp, Path(tmp, "floor.jsonl").open("wb") as out:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        for body in itertools.cycle(bodies):
            if time.perf_counter() >= deadline:
                break
            out.write(to_line(body) + b"\n")
            out.flush()
            records += RECORDS_PER_REQUEST
        elapsed = time.perf_counter() - started
    return {"records": records, "seconds": elapsed}


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "serve":
        asyncio.run(serve(Path(argv[1]), argv[2] if len(argv) > 2 else "batch"))
    elif command == "load":
        result = asyncio.run(load(argv[1], argv[2], int(argv[3]), float(argv[4])))
        print(orjson.dumps(result).decode(), flush=True)
    elif command == "floor":
        print(orjson.dumps(floor(argv[1], float(argv[2]))).decode(), flush=True)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main(sys.argv[1:])
