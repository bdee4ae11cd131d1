"""Security review of the HTTP surface: it serves nothing but its routes, redirects nowhere,
reflects nothing, and its error bodies never carry the token or the payload."""

from __future__ import annotations

import base64

import aiohttp
import orjson
import pytest

from beacon.collector import Collector

from .conftest import TOKEN, MakeCollector, data_lines

MARKER = "zq-reflect-7f3a9c"
PAYLOAD_SECRET = "ghp_" + "Q" * 36  # a GitHub token shape, inside the payload
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=30)


def _base(collector: Collector) -> str:
    return collector.endpoints["http"]


async def _request(
    collector: Collector,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session,
        session.request(
            method,
            _base(collector) + path,
            data=body,
            headers=headers or {},
            allow_redirects=False,
        ) as response,
    ):
        return response.status, dict(response.headers), await response.read()


PROBES = [
    ("GET", "/"),
    ("GET", f"/{MARKER}"),
    ("GET", "/index.html"),
    ("GET", "/static/x.js"),
    ("GET", f"/..%2f..%2fetc/passwd?{MARKER}"),
    ("GET", "//etc/passwd"),
    ("GET", "/v1/logs"),
    ("GET", f"/v1/logs/?next=http://{MARKER}.invalid/"),
    ("GET", "/beacon"),
    ("GET", "/beacon/"),
    ("GET", "/beacon/status/"),
    ("GET", "/BEACON/STATUS"),
    ("HEAD", "/beacon/status"),
    ("OPTIONS", "/v1/logs"),
    ("TRACE", f"/{MARKER}"),
    ("DELETE", "/v1/logs"),
    ("POST", "/beacon/status"),
    ("GET", "/beacon/shutdown"),
    ("POST", f"/v1/{MARKER}"),
]


@pytest.mark.parametrize(("method", "path"), PROBES)
async def test_nothing_else_is_served_no_redirects_no_reflection(
    make_collector: MakeCollector, method: str, path: str
) -> None:
    collector = await make_collector(token=TOKEN)
    status, headers, body = await _request(
        collector, method, path, headers={"X-Probe": MARKER, "Referer": MARKER}
    )
    assert not 300 <= status < 400, (status, headers.get("Location"))
    assert "Location" not in headers
    # Only the status endpoint with the token ever answers 2xx; without it, 401.
    assert status >= 400, status
    assert MARKER.encode() not in body
    assert MARKER not in str(headers)
    assert "Access-Control-Allow-Origin" not in headers
    assert collector.status()["ready"] is True


async def test_head_without_token_is_refused_too(make_collector: MakeCollector) -> None:
    collector = await make_collector(token=TOKEN)
    status, _, _ = await _request(collector, "HEAD", "/beacon/status")
    assert status == 401


def _bad_bodies() -> list[tuple[str, bytes, str]]:
    """(name, body, content type) of refused requests that carry the secret or the token."""
    bad_trace = orjson.dumps(
        {
            "resourceSpans": [
                {"scopeSpans": [{"spans": [{"traceId": PAYLOAD_SECRET, "name": PAYLOAD_SECRET}]}]}
            ]
        }
    )
    bad_value = orjson.dumps(
        {
            "resourceLogs": [
                {
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {"body": {"stringValue": PAYLOAD_SECRET}, "timeUnixNano": TOKEN}
                            ]
                        }
                    ]
                }
            ]
        }
    )
    return [
        ("json-syntax", f'{{"{PAYLOAD_SECRET}" {TOKEN}'.encode(), "application/json"),
        ("json-bad-hex-id", bad_trace, "application/json"),
        ("json-bad-int", bad_value, "application/json"),
        ("json-wrong-shape", orjson.dumps({"resourceLogs": PAYLOAD_SECRET}), "application/json"),
        ("protobuf-garbage", (PAYLOAD_SECRET + TOKEN).encode() * 3, "application/x-protobuf"),
        ("unknown-type", PAYLOAD_SECRET.encode(), f"text/{PAYLOAD_SECRET}"),
        (
            "base64-of-secret",
            base64.b64encode((PAYLOAD_SECRET + TOKEN).encode()),
            "application/x-protobuf",
        ),
    ]


@pytest.mark.parametrize(("name", "body", "content_type"), _bad_bodies())
async def test_error_bodies_never_echo_the_token_or_the_payload(
    make_collector: MakeCollector, name: str, body: bytes, content_type: str
) -> None:
    collector = await make_collector(token=TOKEN)
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"}
    status, response_headers, answer = await _request(
        collector, "POST", "/v1/traces" if "hex" in name else "/v1/logs", body=body,
        headers=headers,
    )  # fmt: skip
    assert 400 <= status < 500, (status, answer[:200])
    for secret in (PAYLOAD_SECRET, TOKEN, PAYLOAD_SECRET[:12], TOKEN[:6]):
        assert secret.encode() not in answer, (name, answer[:300])
        assert secret not in str(response_headers)
    assert data_lines(collector) == []


@pytest.mark.parametrize(
    "presented",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, f"Bearer {MARKER}"],
)
async def test_a_wrong_token_is_never_reflected_nor_the_right_one_revealed(
    make_collector: MakeCollector, presented: str
) -> None:
    collector = await make_collector(token=TOKEN)
    for method, path in (("POST", "/v1/logs"), ("GET", "/beacon/status")):
        status, headers, answer = await _request(
            collector, method, path, body=b"\x00",
            headers={"Authorization": presented, "Content-Type": "application/x-protobuf"},
        )  # fmt: skip
        assert status == 401
        assert TOKEN.encode() not in answer and MARKER.encode() not in answer
        assert TOKEN not in str(headers)
