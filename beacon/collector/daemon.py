"""The Collector: one spool writer, the receivers in front of it, status and drain.

Lifecycle (the OpenTelemetry Collector's component contract):

- ``start()``: open the spool first, then the HTTP app (status/control, plus
  OTLP/HTTP when enabled), then OTLP/gRPC when enabled; write otelcol.yaml;
  record ``collector.started``. Anything that fails is undone and raised as
  ``StartupError`` (or ``UsageError`` for bad settings, ``SpoolError`` for the
  spool).
- ``stop()``: receivers stop accepting, in-flight exports finish (bounded by
  ``timeout``), ``collector.stopped`` is recorded, the spool is flushed and
  closed. Idempotent, safe before ``start()``, safe to call concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import web

from beacon.clock import utc_iso
from beacon.collector.config import CollectorConfig
from beacon.collector.connections import ConnectionCount, accept_queue_pending
from beacon.collector.export import ExportHandler
from beacon.collector.otelcol import otelcol_config, write_otelcol_yaml
from beacon.collector.otlp_http import STATUS_PATH, build_app
from beacon.collector.stats import Stats
from beacon.errors import StartupError
from beacon.gctune import tune_gc_for_serving
from beacon.otlp.records import AttributeValue, lifecycle_request
from beacon.sockets import LISTEN_BACKLOG, bind_listener
from beacon.spool import SpoolWriter

if TYPE_CHECKING:
    import grpc.aio

#: With IPv6 on an ephemeral port, ::1 must get the port 127.0.0.1 got; if it is
#: taken there, pick another port this many times before giving up.
_EPHEMERAL_ATTEMPTS: Final = 5
#: Loop iterations ``wait_drained`` lets pass once the HTTP side looks idle:
#: asyncio takes ~3 (accept callback, transport task, connection_made) to turn an
#: accepted socket into a connection the count sees.
_SETTLE_ITERATIONS: Final = 4
#: What aiohttp's own shutdown gives a request still running once beacon's drain
#: is over (nothing in flight, or the grace spent): only a request that started
#: on a kept-alive connection in that last moment. Cut, it gets no answer and is
#: retried, never acknowledged and lost.
_HANDLER_SHUTDOWN_S: Final = 0.5
#: How long aiohttp keeps reading (and dropping) the unread rest of a body it
#: refused before it closes the connection (its default: 10 s). Long enough for
#: any loopback client to finish sending, so it reads the refusal instead of a
#: reset; short enough that a client trickling bytes is cut soon after its 408.
_LINGERING_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class DrainResult:
    """``records``: records accepted while waiting; ``timed_out``: exports kept coming.

    ``quiet_skipped``: the drain ended because every HTTP client connection had
    closed (``wait_drained(clients_gone=True)``), without a quiet period.
    """

    waited_s: float
    records: int
    timed_out: bool
    quiet_skipped: bool = False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bind_all(hosts: list[str], port: int) -> list[socket.socket]:
    """Listening sockets on every host at one port; ``port`` 0 picks a free one."""
    attempts = _EPHEMERAL_ATTEMPTS if port == 0 and len(hosts) > 1 else 1
    for attempt in range(attempts):
        socks: list[socket.socket] = []
        try:
            bound = port
            for host in hosts:
                socks.append(bind_listener(host, bound))
                bound = socks[-1].getsockname()[1]
            return socks
        except OSError as exc:
            for s in socks:
                s.close()
            retry = exc.errno == errno.EADDRINUSE and attempt + 1 < attempts
            if not retry:
                where = ", ".join(f"{_url_host(h)}:{port}" for h in hosts)
                raise StartupError(
                    f"cannot listen for HTTP on {where}: {exc.strerror or exc}",
                    hint="is the port already in use? pick another or use 0",
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


class Collector:
    """Receives OTLP over HTTP and/or gRPC and appends every export to one spool."""

    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.session_id = config.session_id or uuid.uuid4().hex
        self.shutdown_requested = asyncio.Event()
        self._stats = Stats()
        self._spool = SpoolWriter(config.spool_path, config.fsync)
        self._handler = ExportHandler(self._spool, self._stats, config.token)
        self._runner: web.AppRunner | None = None
        self._http_servers: list[asyncio.Server] = []
        self._connections = ConnectionCount(self._stats.notify)
        self._http_listeners: list[socket.socket] = []
        self._grpc_server: grpc.aio.Server | None = None
        self._http_port: int | None = None
        self._grpc_port: int | None = None
        self._started_wall: float | None = None
        self._started_mono: float | None = None
        #: Control routes of the process that runs the collector (added before start).
        self._extra_routes: list[tuple[str, str, Any]] = []
        self._ready = False
        self._stop_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started_wall is not None or self._stop_task is not None:
            raise StartupError("this Collector was already started; create a new one")
        self.config.validate()
        self._started_wall = time.time()
        self._started_mono = time.monotonic()
        await self._spool.open()
        try:
            await self._start_http()
            if "grpc" in self.config.receivers:
                await self._start_grpc()
            if self.config.otelcol_path is not None:
                await asyncio.to_thread(self._write_otelcol)
            await self._record_started()
            for server in self._http_servers:
                await server.start_serving()
        except BaseException:
            await self._shutdown_receivers(grace=1.0)
            await self._spool.close()
            raise
        if self.config.tune_gc:
            tune_gc_for_serving()
        self._ready = True

    async def _start_http(self) -> None:
        app = build_app(
            handler=self._handler,
            max_body_bytes=self.config.max_body_bytes,
            body_timeout_s=self.config.body_timeout_s,
            otlp="http" in self.config.receivers,
            token=self.config.token,
            status=self.status,
            shutdown=self.shutdown_requested,
        )
        for method, path, route_handler in self._extra_routes:
            app.router.add_route(method, path, route_handler)
        # auto_decompress=False: otlp_http decompresses with a size bound itself.
        runner = web.AppRunner(
            app,
            access_log=None,
            auto_decompress=False,
            shutdown_timeout=_HANDLER_SHUTDOWN_S,
            lingering_time=_LINGERING_S,
        )
        await runner.setup()
        self._runner = runner
        assert runner.server is not None
        socks = list(self.config.http_sockets) or _bind_all(
            self.config.hosts, self.config.http_port
        )
        self._http_listeners = socks
        # aiohttp's web.Server is a protocol factory for loop.create_server (its
        # documented low-level use); serving it here lets beacon count connections.
        factory = self._connections.factory(runner.server)
        loop = asyncio.get_running_loop()
        try:
            for sock in socks:
                # Serving starts in start(), after collector.started is spooled: a
                # pre-bound socket may already hold queued exports, and the spool's
                # first line must name the run (leftover recovery reads it).
                server = await loop.create_server(
                    factory, sock=sock, backlog=LISTEN_BACKLOG, start_serving=False
                )
                self._http_servers.append(server)
        except BaseException:
            for sock in socks:
                sock.close()
            raise
        self._http_port = socks[0].getsockname()[1]

    async def _start_grpc(self) -> None:
        # Imported here so that grpc is loaded only when the gRPC receiver runs.
        from beacon.collector.otlp_grpc import start_grpc_server

        hosts = self.config.hosts
        attempts = _EPHEMERAL_ATTEMPTS if self.config.grpc_port == 0 and len(hosts) > 1 else 1
        for attempt in range(attempts):
            try:
                self._grpc_server, self._grpc_port = await start_grpc_server(
                    self._handler, hosts, self.config.grpc_port, self.config.grpc_max_receive_bytes
                )
                return
            except StartupError:
                if attempt + 1 == attempts:
                    raise

    def _write_otelcol(self) -> None:
        assert self.config.otelcol_path is not None
        host = _url_host(self.config.host)
        http = "http" in self.config.receivers
        config = otelcol_config(
            spool_path=self.config.spool_path,
            http_endpoint=f"{host}:{self._http_port}" if http else None,
            grpc_endpoint=f"{host}:{self._grpc_port}" if self._grpc_port else None,
            with_auth=self.config.token is not None,
            max_body_bytes=self.config.max_body_bytes,
            grpc_max_receive_bytes=self.config.grpc_max_receive_bytes,
        )
        try:
            write_otelcol_yaml(self.config.otelcol_path, config)
        except OSError as exc:
            raise StartupError(
                f"cannot write {self.config.otelcol_path}: {exc.strerror or exc}"
            ) from exc

    async def _record_started(self) -> None:
        receivers = sorted(self.config.receivers)
        protocols = []
        if "http" in receivers:
            protocols += ["http/protobuf", "http/json"]
        if "grpc" in receivers:
            protocols.append("grpc")
        await self.record_lifecycle(
            "collector.started",
            {
                "endpoints": orjson.dumps(self.endpoints).decode(),
                "protocol": ",".join(protocols),
                "receivers": ",".join(receivers),
                "status_url": self.status_url,
            },
        )

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the grace period
        """Stop receivers, let in-flight exports finish (bounded), close the spool."""
        if self._stop_task is None:
            self._stop_task = asyncio.ensure_future(self._stop(timeout))
        # shield: a caller cancelled mid-stop must not leave the spool half closed.
        await asyncio.shield(self._stop_task)

    async def _stop(self, grace: float) -> None:
        self._ready = False
        self._stats.notify()
        await self._shutdown_receivers(grace)
        if self._spool.is_open:
            with contextlib.suppress(Exception):
                # Best effort: a full disk must not keep the spool from closing.
                await self.record_lifecycle("collector.stopped", self._stopped_attributes())
        await self._spool.close()

    def _stopped_attributes(self) -> dict[str, AttributeValue]:
        attrs: dict[str, AttributeValue] = {}
        for signal, n in self._stats.records.items():
            attrs[f"records.{signal}"] = n
        for signal, n in self._stats.rejected.items():
            attrs[f"rejected.{signal}"] = n
        return attrs

    async def _shutdown_receivers(self, grace: float) -> None:
        """Stop accepting, let in-flight exports finish within ``grace``, then close.

        aiohttp's own graceful shutdown stops reading from open connections, so
        an export whose body is still streaming would never finish; hence the
        listeners close first and beacon waits on its own in-flight count.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        server, self._grpc_server = self._grpc_server, None
        runner, self._runner = self._runner, None
        grpc_stop = None
        if server is not None:
            # Refuses new RPCs at once; in-flight ones get ``grace`` seconds.
            grpc_stop = asyncio.ensure_future(server.stop(grace=grace))
        servers, self._http_servers = self._http_servers, []
        for http_server in servers:
            http_server.close()  # the listeners only; open connections go on
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._until_idle(), timeout=max(deadline - loop.time(), 0))
        if runner is not None:
            # Closes idle keep-alive connections; a request still running gets
            # _HANDLER_SHUTDOWN_S more.
            with contextlib.suppress(Exception):
                await runner.cleanup()
        if grpc_stop is not None:
            with contextlib.suppress(Exception):
                await grpc_stop

    async def _until_idle(self) -> None:
        stats = self._stats
        while stats.in_flight:
            stats.changed.clear()
            await stats.changed.wait()

    # ------------------------------------------------------------------ queries

    @property
    def endpoints(self) -> dict[str, str]:
        host = _url_host(self.config.host)
        out: dict[str, str] = {}
        if self._http_port is not None and "http" in self.config.receivers:
            out["http"] = f"http://{host}:{self._http_port}"
        if self._grpc_port is not None:
            out["grpc"] = f"http://{host}:{self._grpc_port}"
        return out

    @property
    def status_url(self) -> str:
        if self._http_port is None:
            raise StartupError("the collector is not running: no status URL yet")
        return f"http://{_url_host(self.config.host)}:{self._http_port}{STATUS_PATH}"

    @property
    def spool_syncs(self) -> int:
        """fdatasync calls the spool made so far (``--fsync`` batch/always)."""
        return self._spool.syncs

    @property
    def ready(self) -> bool:
        return self._ready

    def add_control_route(self, method: str, path: str, route_handler: Any) -> None:
        """Serve one more route on the HTTP app (its handler does its own auth).

        For the session daemon's secrets channel (``beacon.run.secrets``): the
        collector itself knows nothing about it. Call before ``start``.
        """
        if self._runner is not None:
            raise StartupError("control routes must be added before the collector starts")
        self._extra_routes.append((method, path, route_handler))

    def status(self) -> dict[str, Any]:
        started = self._started_wall
        mono = self._started_mono
        return {
            "ready": self._ready,
            # Who answers: stop confirms the daemon's identity before it signals a pid.
            "pid": os.getpid(),
            "session_id": self.config.session_id,
            **self._stats.snapshot(),
            "http_connections": self._connections.open,
            "started_at": None if started is None else utc_iso(started),
            "uptime_s": 0.0 if mono is None else round(time.monotonic() - mono, 3),
            "endpoints": self.endpoints,
            "spool": str(self.config.spool_path),
        }

    async def wait_quiet(self, quiet: float = 0.2, max_wait: float = 5.0) -> DrainResult:
        """Return once nothing is in flight and nothing arrived for ``quiet`` seconds.

        Wakes on every arrival/completion (``Stats.changed``); the only timer
        is the quiet window itself, re-armed by each arrival.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + max_wait
        records_before = self._stats.total_records()
        stats = self._stats
        while True:
            stats.changed.clear()
            now = loop.time()
            idle_for = time.monotonic() - stats.last_activity
            if stats.in_flight == 0 and idle_for >= quiet:
                timed_out = False
                break
            if now >= deadline:
                timed_out = True
                break
            wake_in = deadline - now
            if stats.in_flight == 0:
                wake_in = min(wake_in, quiet - idle_for)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stats.changed.wait(), timeout=max(wake_in, 0.0))
        return DrainResult(
            waited_s=round(loop.time() - start, 3),
            records=stats.total_records() - records_before,
            timed_out=timed_out,
        )

    async def wait_drained(
        self, quiet: float = 0.2, max_wait: float = 5.0, *, clients_gone: bool = False
    ) -> DrainResult:
        """``wait_quiet``, or sooner when the caller knows the clients are gone.

        ``clients_gone=True`` means the caller knows every client process has
        exited (``ci exec`` after its child ended): the kernel has closed their
        sockets, so once no export is in flight, no HTTP connection is open
        and no connection waits to be accepted, nothing more can arrive and
        this returns without a quiet period (``quiet_skipped``). gRPC
        connections cannot be observed (grpc.aio has no hook), so with the
        gRPC receiver running this falls back to ``wait_quiet``.
        """
        if not clients_gone or "grpc" in self.config.receivers:
            return await self.wait_quiet(quiet, max_wait)
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + max_wait
        stats = self._stats
        records_before = stats.total_records()
        while True:
            stats.changed.clear()
            if self._http_idle() and await self._still_idle_after_settling():
                timed_out = False
                break
            now = loop.time()
            if now >= deadline:
                timed_out = True
                break
            with contextlib.suppress(TimeoutError):
                # Wakes on every export arrival/completion and connection open/close.
                await asyncio.wait_for(stats.changed.wait(), timeout=deadline - now)
        return DrainResult(
            waited_s=round(loop.time() - start, 3),
            records=stats.total_records() - records_before,
            timed_out=timed_out,
            quiet_skipped=not timed_out,
        )

    def _http_idle(self) -> bool:
        return (
            self._stats.in_flight == 0
            and self._connections.open == 0
            and not accept_queue_pending(self._http_listeners)
        )

    async def _still_idle_after_settling(self) -> bool:
        # A connection asyncio already took off the accept queue becomes visible
        # to the count a few loop iterations later.
        for _ in range(_SETTLE_ITERATIONS):
            await asyncio.sleep(0)
            if not self._http_idle():
                return False
        return True

    # ------------------------------------------------------------------ lifecycle records

    async def record_lifecycle(self, name: str, attributes: Mapping[str, AttributeValue]) -> None:
        """Append a beacon lifecycle record to the spool (raises ``SpoolError`` on failure)."""
        req = lifecycle_request(name, attributes, self.session_id)
        await self._handler.export("logs", req, internal=True)
