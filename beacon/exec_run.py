"""``beacon ci exec``: collector up, child run, drain, collector down.

:func:`capture` is the async part (the collector and the child share one
event loop); the CLI then calls :func:`beacon.run.finish_run` after the loop.
When a live session owns the base dir, :func:`join_session` runs the child
against it instead and leaves validation to ``session stop``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beacon.agents.harnesses import endpoint_for, telemetry_environment
from beacon.config import CaptureSettings
from beacon.process import ChildResult, run_child
from beacon.run import RunOutcome
from beacon.session_state import SessionState

# After a cancellation the drain gets at most this long: the runner's SIGKILL
# follows its SIGINT by ~10 s and runtime.jsonl must be written before that.
CANCELLED_DRAIN_MAX_S = 1.0

Say = Callable[[str], None]


def new_session_id() -> str:
    return uuid.uuid4().hex


def new_token() -> str:
    return secrets.token_hex(24)


@dataclass(frozen=True)
class Capture:
    outcome: RunOutcome
    child: ChildResult
    drained_records: int


async def capture(
    argv: Sequence[str],
    settings: CaptureSettings,
    environ: Mapping[str, str],
    *,
    timeout_s: float | None,
    say: Say,
) -> Capture:
    from beacon.collector import Collector, CollectorConfig

    session_id = new_session_id()
    token = new_token()
    paths = settings.paths
    collector = Collector(
        CollectorConfig(
            spool_path=paths.spool_path,
            receivers=settings.receivers,
            token=token,
            otelcol_path=paths.otelcol_path,
            session_id=session_id,
        )
    )
    await collector.start()
    try:
        endpoint = endpoint_for(settings.protocol, collector.endpoints)
        say(f"collector listening on {endpoint} ({settings.protocol}), session {session_id}")
        child_env = dict(environ)
        child_env.update(
            telemetry_environment(
                harnesses=settings.harnesses,
                protocol=settings.protocol,
                endpoint=endpoint,
                token=token,
                session_id=session_id,
                job_environ=environ,
                switches=settings.switches,
            )
        )
        cwd = str(Path.cwd())

        async def started(pid: int) -> None:
            await collector.record_lifecycle("child.started", child_started(argv, cwd, pid))

        child = await run_child(argv, child_env, timeout_s=timeout_s, on_started=started)
        await collector.record_lifecycle("child.exited", child_exited(child))
        say(describe_exit(child))
        drain_max = settings.drain_max_s
        if child.cancelled_by is not None:
            drain_max = min(drain_max, CANCELLED_DRAIN_MAX_S)
        drain = await collector.wait_quiet(quiet=settings.drain_quiet_s, max_wait=drain_max)
        drain_info = {
            "waited_ms": int(drain.waited_s * 1000),
            "records": int(drain.records),
            "timed_out": bool(drain.timed_out),
        }
        await collector.record_lifecycle("drain.completed", drain_info)
        say(
            f"drained {drain.records} records in {drain.waited_s:.2f}s"
            + (" (gave up waiting)" if drain.timed_out else "")
        )
    finally:
        await collector.stop()
    outcome = RunOutcome(
        session_id=session_id,
        child_exit_code=child.exit_code,
        timed_out=child.timed_out,
        cancelled_by=child.cancelled_by,
        working_directory=cwd,
        drain=drain_info,
    )
    return Capture(outcome=outcome, child=child, drained_records=int(drain.records))


async def join_session(
    argv: Sequence[str],
    state: SessionState,
    environ: Mapping[str, str],
    *,
    timeout_s: float | None,
    say: Say,
) -> ChildResult:
    """Run the child against a live session; lifecycle records go to its spool."""
    import asyncio

    say(f"joining session {state.session_id} (validation happens at `session stop`)")
    child_env = dict(environ)
    child_env.update(state.exports)
    cwd = str(Path.cwd())

    async def started(pid: int) -> None:
        await asyncio.to_thread(
            post_lifecycle, state, "child.started", child_started(argv, cwd, pid)
        )

    child = await run_child(argv, child_env, timeout_s=timeout_s, on_started=started)
    await asyncio.to_thread(post_lifecycle, state, "child.exited", child_exited(child))
    say(describe_exit(child))
    return child


def post_lifecycle(state: SessionState, name: str, attributes: Mapping[str, Any]) -> None:
    """Send one lifecycle record to the session's collector; a failure only loses the record."""
    from beacon.lifecycle import lifecycle_request
    from beacon.session_state import request

    message = lifecycle_request(name, dict(attributes), state.session_id)
    with contextlib.suppress(OSError):
        request(
            state,
            "/v1/logs",
            method="POST",
            body=message.SerializeToString(),
            content_type="application/x-protobuf",
        )


def child_started(argv: Sequence[str], cwd: str, pid: int) -> dict[str, Any]:
    return {"command": json.dumps(list(argv)), "cwd": cwd, "pid": pid}


def child_exited(child: ChildResult) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "exit_code": child.exit_code,
        "duration_ms": int(child.duration_s * 1000),
    }
    if child.signal is not None:
        attributes["signal"] = child.signal
    return attributes


def describe_exit(child: ChildResult) -> str:
    how = f"exited {child.exit_code}"
    if child.signal is not None:
        how = f"killed by signal {child.signal} (exit {child.exit_code})"
    if child.timed_out:
        how += ", --timeout expired"
    return f"child {how} after {child.duration_s:.2f}s"
