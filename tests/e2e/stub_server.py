"""What the scripted agent-API stubs share: one aiohttp handler for every path, served on
127.0.0.1 at an ephemeral port, and a request body read as a JSON object."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Agents send whole conversations (and images) in one request.
MAX_REQUEST_BYTES = 64 * 1024 * 1024


class LoopbackServer:
    def __init__(self, handler: Handler, *, handler_cancellation: bool = False) -> None:
        self._handler = handler
        self._handler_cancellation = handler_cancellation
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handler)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=self._handler_cancellation
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def started_url(server: LoopbackServer | None, name: str, path: str = "") -> str:
    if server is None or server.port is None:
        raise RuntimeError(f"{name} is not started")
    return f"http://127.0.0.1:{server.port}{path}"


async def json_object(request: web.Request) -> dict[str, Any] | None:
    """The body as a JSON object; None when there is none or it is not one."""
    if not request.can_read_body:
        return None
    with contextlib.suppress(ValueError):
        parsed = json.loads(await request.read())
        return parsed if isinstance(parsed, dict) else None
    return None
