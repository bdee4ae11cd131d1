"""Open client connections of the HTTP app, and whether more are queued to be accepted.

``Collector.wait_drained(clients_gone=True)`` needs to know that no HTTP
client can still send anything: no connection is open and none waits in a
listening socket's accept queue (a child that connected, sent and exited
leaves its connection there, complete, until the loop accepts it).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web


class ConnectionCount:
    """Counts the connections of one aiohttp ``web.Server``; calls ``on_change`` on each change.

    aiohttp reports every accepted and lost connection to its ``Server``
    (``connection_made``/``connection_lost``), which has no public hook, so
    ``attach`` wraps those two methods on the instance.
    """

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.open = 0
        self._on_change = on_change

    def attach(self, server: web.Server) -> None:
        made = server.connection_made
        lost = server.connection_lost

        def connection_made(handler: Any, transport: Any) -> None:
            made(handler, transport)
            self.open += 1
            self._on_change()

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            lost(handler, exc)
            self.open -= 1
            self._on_change()

        # Instance attributes shadow the methods RequestHandler calls on its manager.
        setattr(server, "connection_made", connection_made)  # noqa: B010
        setattr(server, "connection_lost", connection_lost)  # noqa: B010


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
