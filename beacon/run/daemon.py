"""The detached session daemon: ``python -m beacon.run.daemon``.

Started by ``beacon ci session start`` (never forked: the parent may have
imported grpc). Lifecycle: start the collector, report readiness as one JSON
line on ``--ready-fd``, serve until asked to stop (``POST /beacon/shutdown``,
SIGTERM or SIGINT) or ``--max-duration`` passes, drain, stop, exit. SIGHUP is
ignored: the step that started it ending must not end it. The token arrives in
the environment (``BEACON_DAEMON_TOKEN``), never on the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beacon.run.secrets import SecretStore

TOKEN_ENV = "BEACON_DAEMON_TOKEN"  # noqa: S105 - a variable name, not a secret


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m beacon.run.daemon")
    parser.add_argument("--spool-path", type=Path, required=True)
    parser.add_argument("--otelcol-path", type=Path, required=True)
    parser.add_argument("--receivers", required=True)
    parser.add_argument("--session-id", required=True)
    parser.add_argument("--max-duration", type=float, required=True)
    parser.add_argument("--drain-quiet", type=float, required=True)
    parser.add_argument("--drain-max", type=float, required=True)
    parser.add_argument("--fsync", choices=("always", "batch", "off"), default="batch")
    parser.add_argument("--ready-fd", type=int, required=True)
    # The secrets channel's credential and the start step's secret values, read
    # once from this pipe: never on the command line, in the environment or on disk.
    parser.add_argument("--secrets-fd", type=int, default=None)
    return parser.parse_args(argv)


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"{stamp} beacon-daemon[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def report_ready(fd: int, payload: dict[str, object]) -> None:
    with os.fdopen(fd, "w", encoding="utf-8") as pipe:
        pipe.write(json.dumps(payload) + "\n")


def read_secrets(fd: int | None) -> SecretStore | None:
    from beacon.run.secrets import SecretStore

    if fd is None:
        return None
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read()
    return SecretStore.from_handoff(data)


async def serve(args: argparse.Namespace, token: str, secrets: SecretStore | None) -> int:
    from beacon.collector import Collector, CollectorConfig
    from beacon.run.secrets import SECRETS_PATH

    loop = asyncio.get_running_loop()
    stop_signal = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_signal.set)

    collector = Collector(
        CollectorConfig(
            spool_path=args.spool_path,
            receivers=frozenset(args.receivers.split(",")),
            token=token,
            otelcol_path=args.otelcol_path,
            session_id=args.session_id,
            fsync=args.fsync,
            # The daemon exists to serve the collector: see beacon.gctune.
            tune_gc=True,
        )
    )
    if secrets is not None:
        collector.add_control_route("GET", SECRETS_PATH, secrets.get)
        collector.add_control_route("POST", SECRETS_PATH, secrets.add)
    await collector.start()
    try:
        report_ready(
            args.ready_fd,
            {
                "pid": os.getpid(),
                "endpoints": collector.endpoints,
                "status_url": collector.status_url,
            },
        )
        log(f"listening on {collector.endpoints}, session {args.session_id}")
        reason = await wait_for_stop(collector.shutdown_requested, stop_signal, args.max_duration)
        log(f"stopping: {reason}")
        drain = await collector.wait_quiet(quiet=args.drain_quiet, max_wait=args.drain_max)
        await collector.record_lifecycle(
            "drain.completed",
            {
                "waited_ms": int(drain.waited_s * 1000),
                "records": int(drain.records),
                "timed_out": bool(drain.timed_out),
            },
        )
    finally:
        await collector.stop()
    log("stopped")
    return 0


async def wait_for_stop(
    shutdown_requested: asyncio.Event, stop_signal: asyncio.Event, max_duration_s: float
) -> str:
    waiters = {
        asyncio.ensure_future(shutdown_requested.wait()): "shutdown requested",
        asyncio.ensure_future(stop_signal.wait()): "signal received",
    }
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=max_duration_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
    if not done:
        return f"--max-duration {max_duration_s:g}s reached"
    return waiters[next(iter(done))]


def main(argv: list[str] | None = None) -> int:
    # Ignored before anything else: the starting step's shell ending sends SIGHUP.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    token = os.environ.pop(TOKEN_ENV, "")
    if not token:
        log(f"{TOKEN_ENV} is not set; refusing to run without a token")
        return 2
    try:
        secrets = read_secrets(args.secrets_fd)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log(f"cannot read the secrets hand-off: {type(exc).__name__}")
        return 2
    try:
        return asyncio.run(serve(args, token, secrets))
    except Exception as exc:
        log(f"failed: {exc}")
        # The parent reads EOF on the ready pipe and shows this log's tail.
        with contextlib.suppress(OSError):
            os.close(args.ready_fd)
        return 1


if __name__ == "__main__":
    sys.exit(main())
