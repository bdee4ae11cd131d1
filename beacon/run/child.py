"""Run the wrapped child: environment, signal forwarding, timeout, exit code.

Lifecycle: :func:`run_child` starts the child, calls ``on_started(pid)``,
forwards SIGINT/SIGTERM/SIGHUP while it runs, enforces the timeout, and returns
a :class:`ChildResult` once it has exited. It never returns before the child is
gone (a child that ignores everything is killed at the end of the grace).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from beacon.errors import StartupError, UsageError

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# After GitHub's SIGINT the runner sends SIGTERM ~7.5 s later and SIGKILL
# ~2.5 s after that. The child gets this long to flush and exit before it is
# killed, which leaves beacon time to drain and write runtime.jsonl.
CANCEL_GRACE_S = 4.0
# After --timeout: SIGTERM first (Claude Code flushes on it), then SIGKILL.
TIMEOUT_GRACE_S = 5.0


@dataclass(frozen=True)
class ChildResult:
    exit_code: int
    """Shell convention: the child's code, or 128 + N when killed by signal N."""
    signal: int | None
    duration_s: float
    pid: int
    timed_out: bool = False
    cancelled_by: int | None = None
    """The first signal beacon itself received (and forwarded), if any."""


@dataclass
class _Cancellation:
    received: list[int] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)


def exit_code_of(returncode: int) -> tuple[int, int | None]:
    """asyncio's negative returncode → (shell exit code, signal)."""
    if returncode < 0:
        return 128 - returncode, -returncode
    return returncode, None


def _terminal_delivers_sigint() -> bool:
    # Ctrl-C in a terminal signals the whole foreground process group, child
    # included: forwarding it again would make the child see two SIGINTs (for
    # Claude Code, "exit now" instead of "finish up").
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


async def run_child(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout_s: float | None = None,
    on_started: Callable[[int], Awaitable[None]] | None = None,
    cancel_grace_s: float = CANCEL_GRACE_S,
    timeout_grace_s: float = TIMEOUT_GRACE_S,
    early_signals: list[int] | None = None,
) -> ChildResult:
    """``early_signals``: signals beacon received before this call (while it
    was starting); the child gets the first of them as soon as it exists."""
    if not argv:
        raise UsageError(
            "no command to run", hint="put the command after --: beacon ci exec -- CMD"
        )
    loop = asyncio.get_running_loop()
    cancellation = _Cancellation()
    skip_sigint = _terminal_delivers_sigint()
    process: asyncio.subprocess.Process | None = None

    def forward(signum: int) -> None:
        cancellation.received.append(signum)
        cancellation.event.set()
        if process is None or (signum == signal.SIGINT and skip_sigint):
            return  # a signal before the spawn is delivered right after it
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)

    # Python-level handlers (not loop.add_signal_handler): they are restored on
    # the way out, so a caller that holds signals while it writes the log keeps
    # holding them after the child is gone. Installed before the spawn, so no
    # signal falls between the child starting and beacon forwarding.
    def on_signal(signum: int, _frame: object) -> None:
        loop.call_soon_threadsafe(forward, signum)

    previous = {signum: signal.getsignal(signum) for signum in FORWARDED_SIGNALS}
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, on_signal)
    if early_signals:
        forward(early_signals[0])
    started = time.monotonic()
    try:
        process = await _spawn(argv, env)
        if cancellation.received:
            # Arrived before the child existed: not even the terminal reached it.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(cancellation.received[0])
        if on_started is not None:
            await on_started(process.pid)
        timed_out = await _wait(process, timeout_s, cancellation, cancel_grace_s, timeout_grace_s)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process is not None and process.returncode is None:
            # Only reached when beacon itself is failing: never leave the child behind.
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    assert process.returncode is not None
    code, killed_by = exit_code_of(process.returncode)
    return ChildResult(
        exit_code=code,
        signal=killed_by,
        duration_s=time.monotonic() - started,
        pid=process.pid,
        timed_out=timed_out,
        cancelled_by=cancellation.received[0] if cancellation.received else None,
    )


async def _spawn(argv: Sequence[str], env: Mapping[str, str]) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(*argv, env=dict(env))
    except FileNotFoundError as exc:
        raise UsageError(
            f"command not found: {argv[0]}", hint="check the command after -- and PATH"
        ) from exc
    except PermissionError as exc:
        raise UsageError(f"command not executable: {argv[0]}") from exc
    except OSError as exc:
        raise StartupError(f"cannot start {argv[0]}: {exc.strerror}") from exc


async def _wait(
    process: asyncio.subprocess.Process,
    timeout_s: float | None,
    cancellation: _Cancellation,
    cancel_grace_s: float,
    timeout_grace_s: float,
) -> bool:
    """Wait for the child; True when --timeout expired and we ended it."""
    exited = asyncio.ensure_future(process.wait())
    cancelled = asyncio.ensure_future(cancellation.event.wait())
    try:
        done, _ = await asyncio.wait(
            {exited, cancelled}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if exited in done:
            return False
        if cancelled in done:
            # The signal is already forwarded; give the child a bounded time.
            await _end(process, exited, cancel_grace_s, first_signal=None)
            return False
        await _end(process, exited, timeout_grace_s, first_signal=signal.SIGTERM)
        return True
    finally:
        cancelled.cancel()
        if not exited.done():
            exited.cancel()


async def _end(
    process: asyncio.subprocess.Process,
    exited: asyncio.Future[int],
    grace_s: float,
    first_signal: int | None,
) -> None:
    if first_signal is not None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(first_signal)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(exited), grace_s)
        return
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await exited
