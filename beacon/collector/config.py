"""The collector's settings: one frozen value, validated before anything listens."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from beacon.errors import UsageError
from beacon.spool import FSYNC_MODES, FsyncMode

RECEIVERS: Final = frozenset({"http", "grpc"})
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
#: The longest an HTTP request body may take to arrive, from its first read.
#: Generous for any real client on loopback (64 MiB takes well under a second),
#: short enough that a client trickling bytes cannot hold an export open for long.
DEFAULT_BODY_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class CollectorConfig:
    """``receivers`` is a subset of {"http", "grpc"}; the HTTP app (status and
    control) always runs on ``http_port``. Ports 0 mean "pick a free one".
    ``token`` None disables auth (tests only)."""

    spool_path: Path
    receivers: frozenset[str] = frozenset({"http"})
    host: str = "127.0.0.1"
    listen_ipv6: bool = False
    http_port: int = 0
    grpc_port: int = 0
    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BYTES
    grpc_max_receive_bytes: int = DEFAULT_MAX_BYTES
    #: Longest time an OTLP/HTTP body may take to arrive (408 after it).
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    otelcol_path: Path | None = None
    session_id: str | None = None
    #: Listening sockets bound by the caller for the HTTP app (``ci exec`` binds
    #: early so the child can start while aiohttp is still being imported; the
    #: kernel queues its connections meanwhile). When given, ``http_port`` and
    #: ``listen_ipv6`` are not used for HTTP.
    http_sockets: tuple[socket.socket, ...] = ()
    #: Tune the process's garbage collector for serving once started
    #: (``gctune.tune_gc_for_serving``: +40-60 % http/json throughput under
    #: load). Process-wide: for beacon's own daemon/exec processes only.
    tune_gc: bool = False
    #: When acknowledged spool lines are forced to disk (``beacon.spool.FsyncMode``).
    fsync: FsyncMode = "batch"

    def validate(self) -> None:
        """Raise ``UsageError`` on settings that cannot work (before binding anything)."""
        if self.fsync not in FSYNC_MODES:
            raise UsageError(f"--fsync must be one of {', '.join(FSYNC_MODES)}, got {self.fsync!r}")
        unknown = set(self.receivers) - RECEIVERS
        if unknown:
            raise UsageError(
                f"unknown receivers {sorted(unknown)}; choose from {sorted(RECEIVERS)}"
            )
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise UsageError(
                f"collector host must be an IP literal such as 127.0.0.1, got {self.host!r}"
            ) from None
        for name in ("http_port", "grpc_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise UsageError(f"{name} must be within 0..65535, got {port}")
        if self.max_body_bytes <= 0 or self.grpc_max_receive_bytes <= 0:
            raise UsageError("body size limits must be positive")
        if self.token is not None and not self.token:
            raise UsageError("the bearer token must not be empty")

    @property
    def hosts(self) -> list[str]:
        """Every address to listen on: ``host``, then ``::1`` when IPv6 is asked for."""
        if self.listen_ipv6 and self.host != "::1":
            return [self.host, "::1"]
        return [self.host]
