"""Real collectors on real loopback sockets, stopped after each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from beacon.collector import Collector, CollectorConfig

from .otlp_fixtures import CLAUDE, load_request

TOKEN = "s3cret-token"
MakeCollector = Callable[..., Awaitable[Collector]]
TIMEOUT = aiohttp.ClientTimeout(total=30)


@pytest.fixture
async def make_collector(tmp_path: Path) -> AsyncIterator[MakeCollector]:
    started: list[Collector] = []

    async def make(**overrides: Any) -> Collector:
        settings: dict[str, Any] = {"spool_path": tmp_path / f"spool{len(started)}" / "otlp.jsonl"}
        settings.update(overrides)
        collector = Collector(CollectorConfig(**settings))
        started.append(collector)
        await collector.start()
        return collector

    yield make
    for collector in started:
        await collector.stop(timeout=2.0)


def spool_lines(collector: Collector) -> list[dict[str, Any]]:
    """Every spool line, parsed."""
    data = collector.config.spool_path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "spool ends mid-line"
    return [orjson.loads(line) for line in data.splitlines()]


def is_lifecycle(line: dict[str, Any]) -> bool:
    for resource_logs in line.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []):
            if scope_logs.get("scope", {}).get("name") == "beacon":
                return True
    return False


def data_lines(collector: Collector) -> list[dict[str, Any]]:
    """Spool lines that are not beacon's own lifecycle records."""
    return [line for line in spool_lines(collector) if not is_lifecycle(line)]


def raw_data_lines(collector: Collector) -> list[bytes]:
    return [
        line
        for line in collector.config.spool_path.read_bytes().splitlines()
        if not is_lifecycle(orjson.loads(line))
    ]


@pytest.fixture(scope="module")
def logs_body() -> bytes:
    """A real Claude Code logs export, as protobuf."""
    data: bytes = load_request(CLAUDE / "logs.http-protobuf.json").SerializeToString()
    return data


async def post_logs(session: aiohttp.ClientSession, collector: Collector, body: object) -> int:
    """POST ``body`` (bytes or an async iterator of chunks) to /v1/logs; the HTTP status."""
    async with session.post(
        f"{collector.endpoints['http']}/v1/logs",
        data=body,
        headers={"Content-Type": "application/x-protobuf"},
    ) as response:
        await response.read()
        return response.status


async def held_body(body: bytes, release: asyncio.Event) -> AsyncIterator[bytes]:
    """A chunked body whose rest arrives only when ``release`` is set."""
    yield body[:10]
    await release.wait()
    yield body[10:]


async def start_held_export(
    session: aiohttp.ClientSession, collector: Collector, body: bytes
) -> tuple[asyncio.Task[int], asyncio.Event]:
    """POST ``body`` with its rest held back; returns once the collector counts it in
    flight, with the post (its HTTP status) and the event that lets the rest arrive."""
    release = asyncio.Event()
    post = asyncio.create_task(post_logs(session, collector, held_body(body, release)))
    await until(collector, lambda: collector.status()["in_flight"] == 1)
    return post, release


async def until(collector: Collector, predicate: Callable[[], bool], limit_s: float = 5) -> None:
    """Wait, on the collector's change events, until ``predicate`` holds."""
    stats = collector._stats

    async def wait() -> None:
        while not predicate():
            stats.changed.clear()
            await stats.changed.wait()

    await asyncio.wait_for(wait(), limit_s)
