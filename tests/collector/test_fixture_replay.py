"""Recorded payloads replayed over gRPC, HTTP/protobuf and HTTP/JSON give identical lines."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import grpc.aio
import orjson
import pytest

from beacon.collector import Collector
from beacon.collector.otlp_grpc import SERVICES
from beacon.otlp.codec import count_records, encode_spool_line, request_to_dict

from .conftest import MakeCollector, raw_data_lines
from .otlp_fixtures import CLAUDE, all_fixture_paths, load_request, signal_of

TIMEOUT = aiohttp.ClientTimeout(total=30)


async def _http(collector: Collector, signal: str, body: bytes, content_type: str) -> None:
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.post(
            f"{collector.endpoints['http']}/v1/{signal}",
            data=body,
            headers={"Content-Type": content_type},
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def _grpc(collector: Collector, signal: str, body: bytes) -> None:
    target = collector.endpoints["grpc"].removeprefix("http://")
    async with grpc.aio.insecure_channel(target) as channel:
        await channel.unary_unary(f"/{SERVICES[signal]}/Export")(body, timeout=10)


def _json_body(path: Path) -> bytes:
    """The raw OTLP/JSON as recorded when there is one, else the codec's rendering."""
    if path.parent != CLAUDE or "http-json" in path.name:
        return path.read_bytes()
    return orjson.dumps(request_to_dict(signal_of(path), load_request(path)))


@pytest.mark.parametrize("path", all_fixture_paths(), ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_three_protocols_store_identical_lines(
    make_collector: MakeCollector, path: Path
) -> None:
    collector = await make_collector(receivers=frozenset({"http", "grpc"}))
    signal = signal_of(path)
    req = load_request(path)
    proto = req.SerializeToString()
    await _grpc(collector, signal, proto)
    await _http(collector, signal, proto, "application/x-protobuf")
    await _http(collector, signal, _json_body(path), "application/json")
    lines = raw_data_lines(collector)
    assert lines == [encode_spool_line(signal, req)] * 3
    # Each path counts the same records (the JSON path counts without protobuf).
    assert collector.status()["records"][signal] == 3 * count_records(signal, req)


def test_example_ids_stay_intact_as_lower_case_hex() -> None:
    line = orjson.loads(
        encode_spool_line(
            "traces", load_request(path := CLAUDE.parent / "otlp-examples" / "trace.json")
        )
    )
    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    raw = orjson.loads(path.read_bytes())["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == raw["traceId"].lower()
    assert span["spanId"] == raw["spanId"].lower()


def test_claude_http_json_ids_survive() -> None:
    path = CLAUDE / "traces.http-json.json"
    raw = orjson.loads(path.read_bytes())
    line = orjson.loads(encode_spool_line("traces", load_request(path)))
    raw_spans = raw["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans = line["resourceSpans"][0]["scopeSpans"][0]["spans"]
    for got, want in zip(spans, raw_spans, strict=True):
        for key in ("traceId", "spanId", "parentSpanId"):
            if want.get(key):
                assert got[key] == want[key].lower()
            else:
                assert key not in got
