"""run_child in-process: exit codes, timeout, and forwarding a signal that races the spawn."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from beacon.errors import UsageError
from beacon.run.child import exit_code_of, run_child

from .helpers import CHILD


@pytest.fixture
def hup_guard() -> Iterator[None]:
    """A harmless SIGHUP handler, so a forwarding bug cannot kill the test run."""
    previous = signal.signal(signal.SIGHUP, lambda *_: None)
    yield
    signal.signal(signal.SIGHUP, previous)


def test_exit_code_of() -> None:
    assert exit_code_of(0) == (0, None)
    assert exit_code_of(3) == (3, None)
    assert exit_code_of(-9) == (137, 9)


async def test_child_exit_code_and_duration() -> None:
    result = await run_child([*CHILD, "exit:5"], dict(os.environ))
    assert result.exit_code == 5
    assert result.signal is None
    assert result.duration_s > 0
    assert result.cancelled_by is None


async def test_timeout_terminates_then_reports() -> None:
    result = await run_child([*CHILD, "hang"], dict(os.environ), timeout_s=0.3)
    assert result.timed_out is True
    assert result.signal == signal.SIGTERM


async def test_signal_racing_the_spawn_still_reaches_the_child(
    tmp_path: Path, hup_guard: None
) -> None:
    got = tmp_path / "got"
    loop = asyncio.get_running_loop()
    # Fires on the loop's next turn: while the child is being spawned.
    loop.call_soon(os.kill, os.getpid(), signal.SIGHUP)
    result = await run_child([*CHILD, f"waitsig:{got}"], dict(os.environ), cancel_grace_s=10)
    assert result.cancelled_by == signal.SIGHUP
    # Either the child caught it, or it arrived before the child set up its
    # handling and killed it: both prove delivery (without it, it would hang).
    if result.signal is None:
        assert got.read_text() == str(int(signal.SIGHUP))
    else:
        assert result.signal == signal.SIGHUP


async def test_handlers_are_restored(hup_guard: None) -> None:
    before = signal.getsignal(signal.SIGHUP)
    await run_child([sys.executable, "-c", "pass"], dict(os.environ))
    assert signal.getsignal(signal.SIGHUP) is before


async def test_missing_command_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="command not found"):
        await run_child(["/nonexistent/beacon-test-binary"], dict(os.environ))


async def test_a_signal_beacon_got_while_starting_reaches_the_child(tmp_path: Path) -> None:
    got = tmp_path / "got"
    result = await run_child(
        [*CHILD, f"waitsig:{got}"],
        dict(os.environ),
        early_signals=[signal.SIGTERM],
        cancel_grace_s=10,
    )
    assert result.cancelled_by == signal.SIGTERM
    if result.signal is None:
        assert got.read_text() == str(int(signal.SIGTERM))
    else:
        assert result.signal == signal.SIGTERM
