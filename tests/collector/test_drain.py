"""wait_drained(clients_gone=True): no quiet period once every HTTP client has gone."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from .conftest import TIMEOUT, MakeCollector, data_lines, post_logs, start_held_export

QUIET = 10.0  # long, so that "returned without it" is unmistakable even under load


async def test_returns_well_before_the_quiet_period_once_the_client_closed(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    collector = await make_collector()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        assert await post_logs(session, collector, logs_body) == 200
    result = await collector.wait_drained(quiet=QUIET, max_wait=2 * QUIET, clients_gone=True)
    assert result.timed_out is False
    assert result.quiet_skipped is True
    # Not waiting the quiet period is the event; the drain's latency is a figure
    # of the benchmark (`exec: beacon ci exec -- sleep` overhead).
    assert result.waited_s < QUIET
    assert collector.status()["http_connections"] == 0


async def test_a_connection_still_in_the_accept_queue_is_waited_for(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    """A client that connected, sent everything and half-closed before the loop accepted."""
    collector = await make_collector()
    port = int(collector.endpoints["http"].rsplit(":", 1)[1])
    request = (
        b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(logs_body)
    ) + logs_body
    # No await between connecting and draining: the loop has not accepted it yet.
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        result = await collector.wait_drained(quiet=QUIET, max_wait=2 * QUIET, clients_gone=True)
    finally:
        client.close()
    assert result.records == 7
    assert result.quiet_skipped is True
    assert len(data_lines(collector)) == 1


async def test_waits_for_an_export_whose_chunked_body_is_still_arriving(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    collector = await make_collector()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        post, release = await start_held_export(session, collector, logs_body)
        drain = asyncio.create_task(
            collector.wait_drained(quiet=QUIET, max_wait=10, clients_gone=True)
        )
        done, _ = await asyncio.wait({drain}, timeout=0.2)
        assert not done, "drained while an export was still arriving"
        release.set()
        assert await post == 200
    result = await asyncio.wait_for(drain, timeout=5)
    assert result.records == 7
    assert result.timed_out is False
    assert result.quiet_skipped is True


async def test_an_open_connection_holds_the_drain_until_max_wait(
    make_collector: MakeCollector, logs_body: bytes
) -> None:
    collector = await make_collector()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        # The keep-alive connection stays open: a client that may still send.
        assert await post_logs(session, collector, logs_body) == 200
        assert collector.status()["http_connections"] == 1
        result = await collector.wait_drained(quiet=0.05, max_wait=0.3, clients_gone=True)
    assert result.timed_out is True
    assert result.quiet_skipped is False
    assert result.waited_s >= 0.3


async def test_falls_back_to_the_quiet_period_when_grpc_listens(
    make_collector: MakeCollector,
) -> None:
    collector = await make_collector(receivers=frozenset({"http", "grpc"}))
    result = await collector.wait_drained(quiet=0.5, max_wait=5, clients_gone=True)
    assert result.quiet_skipped is False
    assert result.timed_out is False
    # The quiet period counts from the last activity (start-up), not from the call.
    assert result.waited_s >= 0.25


async def test_without_clients_gone_it_is_wait_quiet(make_collector: MakeCollector) -> None:
    collector = await make_collector()
    result = await collector.wait_drained(quiet=0.5, max_wait=5)
    assert result.quiet_skipped is False
    assert result.waited_s >= 0.25
