"""Open client connections of the HTTP app, and whether more are queued to be accepted.

``Collector.wait_drained(clients_gone=True)`` needs to know that no HTTP
client can still send anything: no connection is open and none waits in a
listening socket's accept queue (a child that connected, sent and exited
leaves its connection there, complete, until the loop accepts it).

Only public API: aiohttp documents ``web.Server`` (``AppRunner.server``) as a
protocol factory for ``loop.create_server``, so beacon serves its listening
sockets with ``loop.create_server`` itself and hands each connection to
aiohttp's protocol through ``CountedProtocol``, which sees the connection
open and close. (aiohttp has no public connection hook; the earlier version
patched ``Server.connection_made/lost`` on the instance.)
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Callable, Sequence


class CountedProtocol(asyncio.Protocol):
    """An ``asyncio.Protocol`` that forwards every call to aiohttp's and counts the connection."""

    __slots__ = ("_count", "_inner", "_open")

    def __init__(self, inner: asyncio.Protocol, count: ConnectionCount) -> None:
        self._inner = inner
        self._count = count
        self._open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._open = True
        self._count.opened()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._inner.connection_lost(exc)
        finally:
            if self._open:
                self._open = False
                self._count.closed()

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class ConnectionCount:
    """Counts the open connections of the protocols it made; calls ``on_change`` on each change."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.open = 0
        self._on_change = on_change

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` wrapping aiohttp's ``web.Server``."""

        def make() -> asyncio.Protocol:
            return CountedProtocol(inner(), self)

        return make

    def opened(self) -> None:
        self.open += 1
        self._on_change()

    def closed(self) -> None:
        self.open -= 1
        self._on_change()


def accept_queue_pending(listeners: Sequence[socket.socket]) -> bool:
    """True when a listening socket has a connection the loop has not accepted yet."""
    live = [s for s in listeners if s.fileno() >= 0]
    if not live:
        return False
    try:
        readable, _, _ = select.select(live, [], [], 0)
    except (OSError, ValueError):
        return False  # closed meanwhile: nothing more can be accepted from it
    return bool(readable)
