"""The session's secret values: handed from step to step in memory, never on disk.

In session mode the pipeline runs in the *stop* step, whose environment lacks
the secrets that only ``session start`` (or a joining ``ci exec``) saw. Those
steps read the literal values of their secret-looking variables (the same
selection as the pipeline's own, ``RedactionSettings.from_environ``) and give
them to the daemon: ``start`` through a pipe at spawn, a joining ``ci exec``
with ``POST /beacon/secrets``. ``stop`` fetches them with ``GET
/beacon/secrets`` before the daemon exits and redacts them too.

The channel has a credential of its own, held only in the 0600 ``session.json``
and never exported: every agent step holds the OTLP token, and an agent must
not be able to fetch the secrets. The OTLP token gets 401 here.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

SECRETS_PATH = "/beacon/secrets"
#: Bounds what a joining step may add (values and bytes): the daemon keeps them in memory.
MAX_VALUES = 4096
MAX_BODY_BYTES = 4 << 20


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The literal values the pipeline would redact from this environment."""
    from beacon.pipeline.settings import RedactionSettings

    return list(RedactionSettings.from_environ(environ).env_values)


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` minus its secret-looking variables (the daemon gets their values by pipe)."""
    values = set(secret_values(environ))
    return {name: value for name, value in environ.items() if value not in values}


class SecretStore:
    """The daemon's copy of the session's secret values, behind its own credential."""

    def __init__(self, credential: str, values: list[str]) -> None:
        self._credential = credential
        self._values: set[str] = {v for v in values if isinstance(v, str) and v}

    @classmethod
    def from_handoff(cls, data: bytes) -> SecretStore:
        handoff = json.loads(data)
        credential = str(handoff["credential"])
        if not credential:
            raise ValueError("the secrets channel needs a credential")
        return cls(credential, list(handoff.get("values") or []))

    def allowed(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = f"Bearer {self._credential}"
        return hmac.compare_digest(header.encode(), expected.encode())

    async def get(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        if not self.allowed(request):
            return web.json_response({"error": "unauthenticated"}, status=401)
        return web.json_response({"values": sorted(self._values)})

    async def add(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        if not self.allowed(request):
            return web.json_response({"error": "unauthenticated"}, status=401)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return web.json_response({"error": "too large"}, status=413)
        try:
            body: Any = json.loads(await request.read())
            values = body["values"]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise TypeError("values must be a list of strings")
        except (ValueError, TypeError, KeyError):
            return web.json_response({"error": 'expected {"values": [strings]}'}, status=400)
        if len(self._values) + len(values) > MAX_VALUES:
            return web.json_response({"error": "too many values"}, status=413)
        self._values.update(v for v in values if v)
        return web.json_response({"values": len(self._values)})


def fetch_session_secrets(base_url: str, credential: str, timeout_s: float = 2.0) -> list[str]:
    """The daemon's secret values; raises OSError when it does not answer."""
    body = _request(base_url, credential, method="GET", body=None, timeout_s=timeout_s)
    values = json.loads(body).get("values")
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def give_session_secrets(
    base_url: str, credential: str, values: list[str], timeout_s: float = 2.0
) -> None:
    """Add a joining step's secret values to the daemon's; raises OSError on failure."""
    payload = json.dumps({"values": values}).encode()
    _request(base_url, credential, method="POST", body=payload, timeout_s=timeout_s)


def _request(
    base_url: str, credential: str, *, method: str, body: bytes | None, timeout_s: float
) -> bytes:
    import urllib.request

    headers = {"authorization": f"Bearer {credential}"}
    if body is not None:
        headers["content-type"] = "application/json"
    req = urllib.request.Request(  # noqa: S310 - our own loopback endpoint
        base_url + SECRETS_PATH, data=body, method=method, headers=headers
    )
    with urllib.request.urlopen(req, timeout=timeout_s) as response:  # noqa: S310
        payload: bytes = response.read()
        return payload
