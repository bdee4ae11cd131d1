"""``--forward splunk|falcon``: runtime lines as HTTP Event Collector events.

Splunk's HEC takes ``Authorization: Splunk <token>``; Falcon LogScale's HEC
endpoint takes ``Authorization: Bearer <token>``. Events are batched
(concatenated JSON objects, up to ~1 MiB per request) and retried like uploads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from beacon.exports.objects import ExportFailure
from beacon.exports.retry import RetryLater, with_retries
from beacon.exports.settings import FALCON_TOKEN_ENV, SPLUNK_TOKEN_ENV, ForwardTarget

BATCH_BYTES = 1024 * 1024
_SCHEMES = {"splunk": ("Splunk", SPLUNK_TOKEN_ENV), "falcon": ("Bearer", FALCON_TOKEN_ENV)}


def hec_event(line: bytes) -> bytes:
    """One runtime line as a HEC event (its timestamp as the event time when it parses)."""
    event = orjson.loads(line)
    envelope: dict[str, Any] = {"event": event, "sourcetype": "beacon:runtime", "source": "beacon"}
    host = (event.get("endpoint") or {}).get("hostname") if isinstance(event, dict) else None
    if host:
        envelope["host"] = host
    timestamp = event.get("timestamp") if isinstance(event, dict) else None
    if isinstance(timestamp, str):
        from datetime import datetime

        with contextlib.suppress(ValueError):
            envelope["time"] = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    return orjson.dumps(envelope)


def batches(lines: Sequence[bytes]) -> Iterator[bytes]:
    batch: list[bytes] = []
    size = 0
    for line in lines:
        event = hec_event(line)
        if batch and size + len(event) > BATCH_BYTES:
            yield b"\n".join(batch)
            batch, size = [], 0
        batch.append(event)
        size += len(event) + 1
    if batch:
        yield b"\n".join(batch)


async def forward(
    target: ForwardTarget,
    *,
    lines: Sequence[bytes],
    environ: Mapping[str, str],
    deadline_s: float,
) -> dict[str, Any]:
    import aiohttp

    scheme, token_env = _SCHEMES[target.kind]
    entry: dict[str, Any] = {"kind": target.kind, "endpoint": target.endpoint}
    token = environ.get(token_env, "")
    headers = {"Authorization": f"{scheme} {token}", "Content-Type": "application/json"}
    headers.update(dict(target.headers))
    sent = 0
    requests = 0

    async def post(session: aiohttp.ClientSession, body: bytes) -> None:
        try:
            async with session.post(target.endpoint, data=body, headers=headers) as response:
                text = await response.text()
                if response.status in (429, 502, 503, 504) or response.status >= 500:
                    raise RetryLater(f"{target.endpoint}: HTTP {response.status}")
                if response.status in (401, 403):
                    raise ExportFailure(
                        f"{target.endpoint}: HEC refused the token (HTTP {response.status})",
                        f"check {token_env}",
                    )
                if response.status >= 300:
                    raise ExportFailure(f"{target.endpoint}: HTTP {response.status}: {text[:200]}")
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise RetryLater(f"{target.endpoint}: connection failed: {exc}") from exc

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for body in batches(lines):
                await with_retries(lambda b=body: post(session, b), deadline_s=deadline_s)  # type: ignore[misc]
                requests += 1
                sent += body.count(b"\n") + 1
    except ExportFailure as exc:
        entry.update(status="failed", error=exc.describe(), events=sent, requests=requests)
        return entry
    entry.update(status="ok", error=None, events=sent, requests=requests)
    return entry
