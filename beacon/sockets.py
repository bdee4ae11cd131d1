"""Listening sockets with the standard library only (``ci exec`` binds before aiohttp loads)."""

from __future__ import annotations

import socket
from typing import Final

LISTEN_BACKLOG: Final = 128


def bind_listener(host: str, port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: an ephemeral port); raises ``OSError``.

    SO_REUSEADDR only skips TIME_WAIT; unlike SO_REUSEPORT it never lets two
    listeners share the port on Linux. IPv6 sockets are v6-only, so ``::1`` and
    ``127.0.0.1`` are two listeners, never one dual-stack socket.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock
