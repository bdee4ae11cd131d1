"""Run the wrapped child: environment, signal forwarding, timeout, exit code.

Lifecycle: :func:`run_child` starts the child in a process group of its own,
calls ``on_started(pid)``, forwards SIGINT/SIGTERM/SIGHUP to that group while it
runs, enforces the timeout on the group, and returns a :class:`ChildResult`
once the child has exited and the processes it left in its group (a ``bash -c``
wrapper's agent, an MCP server, a background tool) are ended too. It never
returns before the child is gone (a child that ignores everything is killed at
the end of the grace).

The group is what makes ``--timeout`` and cancellation reach the whole tree,
and what keeps a leftover grandchild holding a connection to the collector from
making the drain wait its maximum. The exception is an interactive terminal
where beacon is the foreground group: the child stays in beacon's group so it
keeps the terminal (a background group reading it would be stopped by
SIGTTIN), the terminal's Ctrl-C reaches the whole group anyway, and only the
child is signalled, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from beacon.errors import StartupError, UsageError

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# After GitHub's SIGINT the runner sends SIGTERM ~7.5 s later and SIGKILL
# ~2.5 s after that. The child gets this long to flush and exit before it is
# killed, which leaves beacon time to drain and write runtime.jsonl.
CANCEL_GRACE_S = 4.0
# After --timeout: SIGTERM first (Claude Code flushes on it), then SIGKILL.
TIMEOUT_GRACE_S = 5.0
# Processes the child left running in its group when it exited get SIGTERM, then
# SIGKILL after this long (shorter after a cancellation: the window is closing).
LEFTOVER_GRACE_S = 2.0
LEFTOVER_GRACE_CANCELLED_S = 0.5
# Polling /proc for the group's last member: a condition, not a synchronisation.
_GROUP_POLL_S = 0.02


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
    leftovers_ended: int = 0
    """Processes still in the child's group after it exited, which beacon then ended."""


@dataclass(frozen=True)
class _Target:
    """Whom signals go to: the child's own process group, or (terminal) the child only."""

    process: asyncio.subprocess.Process
    own_group: bool

    def send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.own_group:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)

    def leftovers(self) -> list[int]:
        return group_members(self.process.pid) if self.own_group else []


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``, from /proc.

    ``killpg(pgid, 0)`` alone is no answer: where PID 1 does not reap orphans,
    a dead grandchild stays a zombie in the group.
    """
    try:
        os.killpg(pgid, 0)  # the common case, an empty group, without reading /proc
    except (ProcessLookupError, PermissionError):
        return []
    members: list[int] = []
    try:
        entries = [path.name for path in Path("/proc").iterdir()]
    except OSError:
        return [pgid]
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        # Fields after the parenthesised name: state ppid pgrp ...
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X", b"x"):
            members.append(int(entry))
    return members


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
    target: _Target | None = None

    def forward(signum: int) -> None:
        cancellation.received.append(signum)
        cancellation.event.set()
        if target is None or (signum == signal.SIGINT and skip_sigint):
            return  # a signal before the spawn is delivered right after it
        target.send(signum)

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
    leftovers = 0
    try:
        # In a terminal's foreground group the terminal signals the child itself.
        process = await _spawn(argv, env, own_group=not skip_sigint)
        target = _Target(process, own_group=not skip_sigint)
        if cancellation.received:
            # Arrived before the child existed: not even the terminal reached it.
            target.send(cancellation.received[0])
        if on_started is not None:
            await on_started(process.pid)
        timed_out = await _wait(target, timeout_s, cancellation, cancel_grace_s, timeout_grace_s)
        leftovers = await _end_leftovers(
            target,
            LEFTOVER_GRACE_CANCELLED_S if cancellation.received or timed_out else LEFTOVER_GRACE_S,
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if target is not None and process is not None and process.returncode is None:
            # Only reached when beacon itself is failing: never leave the child behind.
            target.send(signal.SIGKILL)
            await process.wait()
    assert process is not None and process.returncode is not None
    code, killed_by = exit_code_of(process.returncode)
    return ChildResult(
        exit_code=code,
        signal=killed_by,
        duration_s=time.monotonic() - started,
        pid=process.pid,
        timed_out=timed_out,
        cancelled_by=cancellation.received[0] if cancellation.received else None,
        leftovers_ended=leftovers,
    )


async def _end_leftovers(target: _Target, grace_s: float) -> int:
    """End what the child left in its group: SIGTERM, then SIGKILL after ``grace_s``.

    Returns how many processes were left. A leftover holding a connection to the
    collector would otherwise make the drain wait its maximum, and a CI step's
    strays would outlive the command beacon was asked to run.
    """
    left = target.leftovers()
    if not left:
        return 0
    target.send(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    while target.leftovers():
        if loop.time() >= deadline:
            target.send(signal.SIGKILL)
            break
        await asyncio.sleep(_GROUP_POLL_S)
    return len(left)


async def _spawn(
    argv: Sequence[str], env: Mapping[str, str], *, own_group: bool
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *argv, env=dict(env), process_group=0 if own_group else None
        )
    except FileNotFoundError as exc:
        raise UsageError(
            f"command not found: {argv[0]}", hint="check the command after -- and PATH"
        ) from exc
    except PermissionError as exc:
        raise UsageError(f"command not executable: {argv[0]}") from exc
    except OSError as exc:
        raise StartupError(f"cannot start {argv[0]}: {exc.strerror}") from exc


async def _wait(
    target: _Target,
    timeout_s: float | None,
    cancellation: _Cancellation,
    cancel_grace_s: float,
    timeout_grace_s: float,
) -> bool:
    """Wait for the child; True when --timeout expired and we ended it."""
    exited = asyncio.ensure_future(target.process.wait())
    cancelled = asyncio.ensure_future(cancellation.event.wait())
    try:
        done, _ = await asyncio.wait(
            {exited, cancelled}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if exited in done:
            return False
        if cancelled in done:
            # The signal is already forwarded; give the child a bounded time.
            await _end(target, exited, cancel_grace_s, first_signal=None)
            return False
        await _end(target, exited, timeout_grace_s, first_signal=signal.SIGTERM)
        return True
    finally:
        cancelled.cancel()
        if not exited.done():
            exited.cancel()


async def _end(
    target: _Target,
    exited: asyncio.Future[int],
    grace_s: float,
    first_signal: int | None,
) -> None:
    if first_signal is not None:
        target.send(first_signal)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(exited), grace_s)
        return
    target.send(signal.SIGKILL)
    await exited
