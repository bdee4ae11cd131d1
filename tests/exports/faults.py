"""A reverse proxy on 127.0.0.1 that answers chosen requests with an error instead."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

Rule = Callable[[web.Request], int | None]
#: A rule answering RESET drops the connection instead of answering.
RESET = -1


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    url: str = ""

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(f"{request.method} {request.path_qs}")
        for rule in self.rules:
            status = rule(request)
            if status == RESET:
                await request.read()
                assert request.transport is not None
                request.transport.abort()  # the connection drops without an answer
                return web.Response(status=500)
            if status is not None:
                await request.read()
                return web.Response(status=status, text="<Error><Code>Injected</Code></Error>")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with self.session.request(
            request.method,
            f"{self.upstream}{request.path_qs}",
            data=io.BytesIO(body),
            headers=headers,
            allow_redirects=False,
        ) as upstream:
            data = await upstream.read()
            out_headers = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            }
            return web.Response(status=upstream.status, body=data, headers=out_headers)


def times(n: int, status: int, predicate: Callable[[web.Request], bool]) -> Rule:
    """Answer ``status`` to the first ``n`` requests matching ``predicate``."""
    left = [n]

    def rule(request: web.Request) -> int | None:
        if left[0] > 0 and predicate(request):
            left[0] -= 1
            return status
        return None

    return rule
