"""Hypothesis fuzz campaign against a running collector, over real loopback sockets.

Every case goes to one long-lived collector (a thread of its own): generated
OTLP messages, mutations of them, raw bytes and JSON, over OTLP/HTTP
(protobuf and JSON, every Content-Encoding, some lying) and OTLP/gRPC. The
oracle for each case: an answer with an expected status (never 5xx, never a
dropped connection); an acknowledged case adds exactly one whole, parseable
spool line, a refused one adds none; the collector still answers a good export.

The default suite runs a few dozen cases per strategy; `nox -s fuzz` runs
``BEACON_FUZZ_EXAMPLES`` per strategy and prints the totals.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import os
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.collector import Collector, CollectorConfig
from beacon.otlp.codec import REQUEST_TYPES, request_to_dict

from .otlp_fixtures import CLAUDE, load_request
from .test_codec_property import _fill

EXAMPLES = int(os.environ.get("BEACON_FUZZ_EXAMPLES", "20"))
TOKEN = "fuzz-token-0123456789"
LIMIT = 256 << 10
HTTP_OK = {200}
HTTP_REFUSED = {400, 413, 415}
GRPC_METHOD = {
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Campaign:
    collector: Collector
    loop: asyncio.AbstractEventLoop
    http_port: int
    grpc_target: str
    cases: int = 0
    crashes: list[str] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)

    def spool_line_count(self) -> int:
        data = self.collector.config.spool_path.read_bytes()
        assert data.endswith(b"\n"), "the spool ends mid-line"
        for line in data.splitlines():
            orjson.loads(line)  # every line whole
        return data.count(b"\n")

    def record(self, outcome: str) -> None:
        self.cases += 1
        self.by_status[outcome] = self.by_status.get(outcome, 0) + 1


def _serve(ready: Future[Campaign], stop: threading.Event, spool: Path) -> None:
    async def main() -> None:
        collector = Collector(
            CollectorConfig(
                spool_path=spool,
                receivers=frozenset({"http", "grpc"}),
                token=TOKEN,
                max_body_bytes=LIMIT,
                grpc_max_receive_bytes=LIMIT,
            )
        )
        await collector.start()
        http_port = int(collector.endpoints["http"].rsplit(":", 1)[1])
        grpc_target = collector.endpoints["grpc"].removeprefix("http://")
        ready.set_result(Campaign(collector, asyncio.get_running_loop(), http_port, grpc_target))
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await collector.stop()

    asyncio.run(main())


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    ready: Future[Campaign] = Future()
    stop = threading.Event()
    spool = tmp_path_factory.mktemp("fuzz") / "otlp.jsonl"
    thread = threading.Thread(target=_serve, args=(ready, stop, spool), daemon=True)
    thread.start()
    found = ready.result(timeout=60)
    try:
        yield found
    finally:
        stop.set()
        thread.join(timeout=60)
        print(
            f"\nfuzz campaign: {found.cases} cases run, {len(found.crashes)} crashes; "
            f"outcomes {dict(sorted(found.by_status.items()))}"
        )
    assert not found.crashes, found.crashes[:5]


# ------------------------------------------------------------------ sending


def _http(
    campaign: Campaign, signal: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", campaign.http_port, timeout=60)
    try:
        conn.request(
            "POST",
            f"/v1/{signal}",
            body=body,
            headers={"Authorization": f"Bearer {TOKEN}", **headers},
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_http(
    campaign: Campaign, signal: str, body: bytes, headers: dict[str, str], allowed: set[int]
) -> int:
    before = campaign.spool_line_count()
    try:
        status, answer = _http(campaign, signal, body, headers)
    except (OSError, http.client.HTTPException) as exc:
        campaign.crashes.append(f"HTTP {signal} {headers}: {exc!r}")
        raise
    campaign.record(f"http {status}")
    after = campaign.spool_line_count()
    if status >= 500 or status not in allowed:
        campaign.crashes.append(f"HTTP {signal} {headers}: {status} {answer[:200]!r}")
    assert status in allowed, (status, answer[:300])
    assert after == before + (1 if status == 200 else 0)
    if body[:40] and len(body) >= 40:
        assert body[:40] not in answer  # the payload is not reflected
    return status


def check_grpc(campaign: Campaign, signal: str, body: bytes) -> grpc.StatusCode:
    before = campaign.spool_line_count()
    with grpc.insecure_channel(campaign.grpc_target) as channel:
        call = channel.unary_unary(GRPC_METHOD[signal])
        try:
            call(body, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=60)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()
    campaign.record(f"grpc {code.name}")
    allowed = {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    if code not in allowed:
        campaign.crashes.append(f"gRPC {signal}: {code}")
    assert code in allowed
    assert campaign.spool_line_count() == before + (1 if code == grpc.StatusCode.OK else 0)
    return code


# ------------------------------------------------------------------ strategies

SIGNALS = st.sampled_from(sorted(REQUEST_TYPES))


@st.composite
def otlp_message(draw: Any) -> tuple[str, Any]:
    signal = draw(SIGNALS)
    request = REQUEST_TYPES[signal]()
    _fill(request, draw, 0)
    return signal, request


@st.composite
def mutated(draw: Any, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, inserted, deleted or the tail cut."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        if not out:
            break
        at = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "varint"]))
        if op == "flip":
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 8))]
        elif op == "cut":
            del out[at:]
        else:
            out[at:at] = b"\xff" * draw(st.integers(1, 10))  # an endless varint
    return bytes(out)


def _encode(body: bytes, coding: str) -> bytes:
    if coding in ("gzip", "x-gzip"):
        return gzip.compress(body)
    if coding == "deflate":
        return zlib.compress(body)
    return body


CODINGS = st.sampled_from(["identity", "gzip", "x-gzip", "deflate"])
_GOOD = load_request(CLAUDE / "logs.http-protobuf.json").SerializeToString()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceLogs",
                    "resourceSpans",
                    "resourceMetrics",
                    "scopeLogs",
                    "logRecords",
                    "body",
                    "stringValue",
                    "attributes",
                    "key",
                    "value",
                    "timeUnixNano",
                    "traceId",
                    "spanId",
                    "kvlistValue",
                    "arrayValue",
                    "values",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


# ------------------------------------------------------------------ the campaign


@FUZZ
@given(message=otlp_message(), coding=CODINGS, as_json=st.booleans())
def test_generated_otlp_is_acknowledged_whole(
    campaign: Campaign, message: tuple[str, Any], coding: str, as_json: bool
) -> None:
    signal, request = message
    if as_json:
        body = orjson.dumps(request_to_dict(signal, request) or {})
        content_type = "application/json"
    else:
        body = request.SerializeToString()
        content_type = "application/x-protobuf"
    headers = {"Content-Type": content_type, "Content-Encoding": coding}
    # Generated messages are valid; only size or JSON's own limits may refuse them.
    check_http(campaign, signal, _encode(body, coding), headers, HTTP_OK | {400, 413})


@FUZZ
@given(data=st.data(), coding=CODINGS, signal=SIGNALS)
def test_mutated_protobuf(
    campaign: Campaign, data: st.DataObject, coding: str, signal: str
) -> None:
    body = data.draw(mutated(_GOOD))
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": coding}
    check_http(campaign, signal, _encode(body, coding), headers, HTTP_OK | HTTP_REFUSED)


@FUZZ
@given(
    body=st.binary(max_size=4096),
    content_type=st.sampled_from(
        ["application/x-protobuf", "application/json", "application/protobuf", "text/plain", ""]
    ),
    coding=st.sampled_from(["identity", "gzip", "deflate", "br", "gzip, deflate", ""]),
    signal=SIGNALS,
)
def test_raw_bytes_with_any_headers(
    campaign: Campaign, body: bytes, content_type: str, coding: str, signal: str
) -> None:
    # Content-Encoding here is a lie for any body not compressed that way.
    headers = {"Content-Type": content_type, "Content-Encoding": coding}
    check_http(campaign, signal, body, headers, HTTP_OK | HTTP_REFUSED)


@FUZZ
@given(value=JSON_VALUES, signal=SIGNALS, coding=CODINGS)
def test_arbitrary_json(campaign: Campaign, value: Any, signal: str, coding: str) -> None:
    try:
        body = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        body = repr(value).encode()  # integers beyond 64 bits: send the text anyway
    headers = {"Content-Type": "application/json", "Content-Encoding": coding}
    check_http(campaign, signal, _encode(body, coding), headers, HTTP_OK | HTTP_REFUSED)


@FUZZ
@given(data=st.data(), signal=SIGNALS, raw=st.booleans())
def test_grpc_bytes(campaign: Campaign, data: st.DataObject, signal: str, raw: bool) -> None:
    body = data.draw(st.binary(max_size=2048)) if raw else data.draw(mutated(_GOOD))
    check_grpc(campaign, signal, body)


def test_still_serving_after_the_campaign(campaign: Campaign) -> None:
    headers = {"Content-Type": "application/x-protobuf"}
    assert check_http(campaign, "logs", _GOOD, headers, HTTP_OK) == 200
    assert check_grpc(campaign, "logs", _GOOD) == grpc.StatusCode.OK
