"""Collector lifecycle: start/stop order and idempotence, ports, drain, lifecycle records,
otelcol.yaml, concurrency."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any

import aiohttp
import grpc.aio
import orjson
import pytest
import yaml

from beacon.collector import Collector, CollectorConfig
from beacon.errors import StartupError, UsageError

from .conftest import (
    TIMEOUT,
    TOKEN,
    MakeCollector,
    data_lines,
    is_lifecycle,
    post_logs,
    spool_lines,
    start_held_export,
    until,
)


def _lifecycle_records(collector: Collector) -> list[dict[str, Any]]:
    records = []
    for line in spool_lines(collector):
        if is_lifecycle(line):
            record = line["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
            attrs = {a["key"]: next(iter(a["value"].values())) for a in record["attributes"]}
            records.append(attrs)
    return records


async def test_started_and_stopped_records_frame_the_data(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    collector = await make_collector(receivers=frozenset({"http", "grpc"}), session_id="s-1")
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        assert await post_logs(session, collector, logs_body) == 200
        assert await post_logs(session, collector, b"\xff") == 400
    await collector.stop()
    lines = spool_lines(collector)
    assert [is_lifecycle(line) for line in lines] == [True, False, True]
    started, stopped = _lifecycle_records(collector)
    assert started["event.name"] == "collector.started"
    assert orjson.loads(started["endpoints"]) == collector.endpoints
    assert started["receivers"] == "grpc,http"
    assert stopped["event.name"] == "collector.stopped"
    assert stopped["records.logs"] == "7"  # int64 attributes are decimal strings in OTLP/JSON
    assert stopped["rejected.logs"] == "1"
    assert stopped["records.traces"] == "0"
    resource = lines[0]["resourceLogs"][0]["resource"]["attributes"]
    assert {"key": "beacon.session.id", "value": {"stringValue": "s-1"}} in resource


async def test_stop_before_start_and_twice(tmp_path: Path) -> None:
    collector = Collector(CollectorConfig(spool_path=tmp_path / "otlp.jsonl"))
    await collector.stop()
    await collector.stop()
    assert not (tmp_path / "otlp.jsonl").exists()
    running = Collector(CollectorConfig(spool_path=tmp_path / "b.jsonl"))
    await running.start()
    await asyncio.gather(running.stop(), running.stop())
    await running.stop()
    assert len(spool_lines(running)) == 2
    with pytest.raises(StartupError, match="already started"):
        await running.start()


async def test_http_port_in_use_is_a_startup_error(make_collector: MakeCollector) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(StartupError, match=rf"127\.0\.0\.1:{port}.*in use"):
            await make_collector(http_port=port)


async def test_fixed_ports_are_used(make_collector: MakeCollector) -> None:
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    collector = await make_collector(
        receivers=frozenset({"http", "grpc"}), http_port=ports[0], grpc_port=ports[1]
    )
    assert collector.endpoints == {
        "http": f"http://127.0.0.1:{ports[0]}",
        "grpc": f"http://127.0.0.1:{ports[1]}",
    }


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def require_ipv6_loopback() -> None:
    """Skip where ::1 is off; in CI (``CI`` set) fail instead: there it is a broken set-up."""
    if _ipv6_loopback_available():
        return
    message = "no ::1 on this machine (IPv6 loopback is off)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


async def test_ipv6_listens_on_both_loopbacks_at_one_port(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    require_ipv6_loopback()
    collector = await make_collector(listen_ipv6=True, receivers=frozenset({"http", "grpc"}))
    port = int(collector.endpoints["http"].rsplit(":", 1)[1])
    grpc_port = int(collector.endpoints["grpc"].rsplit(":", 1)[1])
    for target in (f"127.0.0.1:{grpc_port}", f"[::1]:{grpc_port}"):
        async with grpc.aio.insecure_channel(target) as channel:
            export = channel.unary_unary(
                "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
            )
            await export(logs_body, timeout=10)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for host in ("127.0.0.1", "[::1]"):
            async with session.post(
                f"http://{host}:{port}/v1/logs",
                data=logs_body,
                headers={"Content-Type": "application/x-protobuf"},
            ) as resp:
                assert resp.status == 200
    assert len(data_lines(collector)) == 4


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"receivers": frozenset({"udp"})}, "unknown receivers"),
        ({"host": "localhost"}, "IP literal"),
        ({"http_port": 70000}, "0..65535"),
        ({"token": ""}, "must not be empty"),
    ],
)
async def test_bad_settings_fail_before_listening(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    collector = Collector(CollectorConfig(spool_path=tmp_path / "otlp.jsonl", **overrides))
    with pytest.raises(UsageError, match=message):
        await collector.start()
    assert not (tmp_path / "otlp.jsonl").exists()


async def test_wait_quiet_returns_promptly_after_an_export(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    collector = await make_collector()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        assert await post_logs(session, collector, logs_body) == 200
    result = await collector.wait_quiet(quiet=0.05, max_wait=5)
    assert result.timed_out is False
    assert result.waited_s < 5  # generous: returning before max_wait is the point
    assert result.records == 0  # accepted before the wait began


async def test_wait_quiet_times_out_while_an_export_is_in_flight(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    collector = await make_collector()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        post, release = await start_held_export(session, collector, logs_body)
        result = await collector.wait_quiet(quiet=0.05, max_wait=0.3)
        assert result.timed_out is True
        assert result.waited_s >= 0.3
        waiter = asyncio.create_task(collector.wait_quiet(quiet=0.05, max_wait=5))
        release.set()
        assert await post == 200
        drained = await waiter
    assert drained.timed_out is False
    assert drained.records == 7


async def test_wait_quiet_times_out_while_exports_keep_arriving(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    collector = await make_collector()
    stop_sending = asyncio.Event()
    sent = 0

    async def keep_sending(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while not stop_sending.is_set():
            assert await post_logs(session, collector, logs_body) == 200
            sent += 1

    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        sender = asyncio.create_task(keep_sending(session))
        await until(collector, lambda: sent >= 1)
        result = await collector.wait_quiet(quiet=0.25, max_wait=0.6)
        stop_sending.set()
        await sender
    assert result.timed_out is True
    assert result.waited_s >= 0.6
    assert result.records > 0
    after = await collector.wait_quiet(quiet=0.05, max_wait=5)
    assert after.timed_out is False


async def test_stop_lets_an_in_flight_export_finish(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    collector = await make_collector()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        post, release = await start_held_export(session, collector, logs_body)
        stopping = asyncio.create_task(collector.stop(timeout=5))
        await until(collector, lambda: not collector.status()["ready"])
        release.set()
        assert await post == 200
        await stopping
    lines = spool_lines(collector)
    assert [is_lifecycle(line) for line in lines] == [True, False, True]


async def test_many_concurrent_exporters(make_collector: MakeCollector, logs_body: bytes) -> None:
    collector = await make_collector()
    clients, per_client = 50, 20
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(timeout=TIMEOUT, connector=connector) as session:

        async def client() -> list[int]:
            return [await post_logs(session, collector, logs_body) for _ in range(per_client)]

        results = await asyncio.gather(*(client() for _ in range(clients)))
    statuses = [s for r in results for s in r]
    assert statuses.count(200) == clients * per_client
    lines = data_lines(collector)  # parses every line
    assert len(lines) == clients * per_client
    assert collector.status()["records"]["logs"] == 7 * clients * per_client
    assert collector.status()["in_flight"] == 0


async def test_status_fields(make_collector: MakeCollector, logs_body: bytes) -> None:
    collector = await make_collector()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        assert await post_logs(session, collector, logs_body) == 200
        async with session.get(collector.status_url) as resp:
            doc = await resp.json()
    assert doc["ready"] is True
    assert doc["records"]["logs"] == 7
    assert doc["requests"] == {"ok": 1}
    assert doc["bytes"] == len(logs_body)
    assert doc["last_receive_at"].endswith("Z")
    assert doc["started_at"].endswith("Z")
    assert doc["uptime_s"] >= 0


async def test_record_lifecycle_goes_to_the_spool(make_collector: MakeCollector) -> None:
    collector = await make_collector()
    await collector.record_lifecycle("child.exited", {"exit_code": 2, "duration_ms": 10})
    names = [r["event.name"] for r in _lifecycle_records(collector)]
    assert names == ["collector.started", "child.exited"]
    assert collector.status()["records"]["logs"] == 0  # beacon's own records are not counted


async def test_otelcol_yaml(make_collector: MakeCollector, tmp_path: Path) -> None:
    path = tmp_path / "otelcol.yaml"
    collector = await make_collector(
        receivers=frozenset({"http", "grpc"}), token=TOKEN, otelcol_path=path
    )
    text = path.read_text()
    assert TOKEN not in text
    http_hostport = collector.endpoints["http"].removeprefix("http://")
    grpc_hostport = collector.endpoints["grpc"].removeprefix("http://")
    assert f'endpoint: "{grpc_hostport}"' in text
    assert f'endpoint: "{http_hostport}"' in text
    assert 'token: "${env:BEACON_OTLP_TOKEN}"' in text
    assert f"path: {orjson.dumps(str(collector.config.spool_path)).decode()}" in text
    assert 'format: "json"' in text
    for signal in ("logs", "metrics", "traces"):
        assert f'    {signal}:\n      receivers: ["otlp"]\n      exporters: ["file"]' in text
    # A real YAML parser reads it the way the OpenTelemetry Collector would.
    doc = yaml.safe_load(text)
    protocols = doc["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == grpc_hostport
    assert protocols["http"]["endpoint"] == http_hostport
    assert protocols["grpc"]["auth"] == {"authenticator": "bearertokenauth"}
    assert doc["extensions"]["bearertokenauth"] == {"token": "${env:BEACON_OTLP_TOKEN}"}
    assert doc["exporters"]["file"] == {"path": str(collector.config.spool_path), "format": "json"}
    assert doc["service"]["extensions"] == ["bearertokenauth"]
    for signal in ("logs", "metrics", "traces"):
        assert doc["service"]["pipelines"][signal] == {"receivers": ["otlp"], "exporters": ["file"]}


async def test_exports_queued_on_a_prebound_socket_land_after_collector_started(
    tmp_path: Path, logs_body: bytes
) -> None:
    # `ci exec` binds the socket and starts the child before the collector is up,
    # so the kernel may hold a whole export when the collector starts. The spool's
    # first line must still be collector.started: it names the run, and a spool
    # left by a killed run is recovered under that name.
    from beacon.sockets import bind_listener

    listener = bind_listener("127.0.0.1")
    port = listener.getsockname()[1]
    request = (
        f"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-protobuf\r\nContent-Length: {len(logs_body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + logs_body
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(request)  # queued in the kernel: nobody accepts yet
    collector = Collector(
        CollectorConfig(
            spool_path=tmp_path / "spool" / "otlp.jsonl",
            otelcol_path=tmp_path / "otelcol.yaml",
            http_sockets=(listener,),
        )
    )
    await collector.start()
    try:
        reply = await asyncio.to_thread(client.recv, 64)
        assert reply.startswith(b"HTTP/1.1 200"), reply
    finally:
        client.close()
        await collector.stop()
    lines = spool_lines(collector)
    assert [is_lifecycle(line) for line in lines] == [True, False, True]
