"""Real collectors on real loopback sockets, stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from beacon.collector import Collector, CollectorConfig

TOKEN = "s3cret-token"
MakeCollector = Callable[..., Awaitable[Collector]]


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
