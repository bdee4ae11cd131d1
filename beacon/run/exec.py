"""``beacon ci exec``: collector up, child run, drain, collector down.

:func:`capture` is the async part (the collector and the child share one
event loop); the CLI then calls :func:`beacon.run.finish.finish_run` after the loop.
When a live session owns the base dir, :func:`join_session` runs the child
against it instead and leaves validation to ``session stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beacon.agents.argv import mask_prompts
from beacon.agents.harnesses import (
    GENERIC_OTEL,
    Harness,
    endpoint_for,
    prepare_files,
    protocol_notes,
    telemetry_environment,
)
from beacon.config import CaptureSettings
from beacon.errors import StartupError
from beacon.paths import ArtifactPaths
from beacon.run.child import ChildResult, run_child
from beacon.run.finish import RunOutcome, write_private
from beacon.run.state import SessionState, is_ours
from beacon.sockets import bind_listener

if TYPE_CHECKING:
    from beacon.collector import Collector

# After a cancellation the drain gets at most this long: the runner's SIGKILL
# follows its SIGINT by ~10 s and runtime.jsonl must be written before that.
CANCELLED_DRAIN_MAX_S = 1.0
#: Set in the child's environment: a `ci exec` nested inside joins this run.
EXEC_SESSION_ENV = "BEACON_CI_EXEC_SESSION_ID"

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
    held_from: int = 0
    """Signals in the caller's ``early_signals`` from this index on arrived after the
    child exited: held (``deferred_signals``) while beacon finishes, not forwarded."""


def bind_http_listener(host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on an ephemeral loopback port, before the collector is imported."""
    try:
        return bind_listener(host)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}: {exc.strerror}") from exc


def agent_environment(
    settings: CaptureSettings,
    paths: ArtifactPaths,
    environ: Mapping[str, str],
    *,
    endpoints: Mapping[str, str],
    token: str,
    session_id: str,
) -> dict[str, str]:
    """What the agents need to export to this collector: files (Codex's CODEX_HOME), then
    the environment that points every harness at ``endpoints`` (ci exec and session start)."""
    endpoint = endpoint_for(settings.protocol, endpoints)
    files = prepare_files(
        settings.harnesses,
        paths.base_dir,
        environ,
        protocol=settings.protocol,
        endpoint=endpoint,
        token=token,
        switches=settings.switches,
    )
    return telemetry_environment(
        harnesses=settings.harnesses,
        protocol=settings.protocol,
        endpoint=endpoint,
        token=token,
        session_id=session_id,
        job_environ=environ,
        switches=settings.switches,
        files=files,
    )


#: What the finish imports on first use (the pipeline, its chunk worker, the rules
#: stage, the report and its formats, the CI provider table): ~0.05 s of imports and
#: rule tables on a quiet 2-core runner, after the child has exited unless warmed.
#: tests/cli/test_warm_up.py checks that a run imports nothing of beacon's after the child.
FINISH_MODULES = (
    "beacon.pipeline.runner",
    "beacon.pipeline.worker",
    "beacon.rules.stage",
    "beacon.rules.model",
    "beacon.report.build",
    "beacon.report.html",
    "beacon.report.markdown",
    "beacon.report.outputs",
    "beacon.report.text",
    "beacon.cli.report_flow",
    "beacon.ci.providers",
)


def warm_up_pipeline(*, rules: bool = False) -> None:
    """Import what the finish needs and compile the schema check while the child runs.

    Runs in a worker thread during the child's lifetime, so what it costs is
    not added after the child exits. ``rules``: an agent's events are expected,
    so the rules stage will need its engine and beacon's pack (~0.15 s of CPU).
    """
    import importlib

    for name in FINISH_MODULES:
        importlib.import_module(name)
    validate = importlib.import_module("beacon.pipeline.validate")
    compile_schema = getattr(validate, "schema_check", None)
    if callable(compile_schema):
        compile_schema()
    if rules:
        importlib.import_module("beacon.rules.engine")
        importlib.import_module("beacon.rules.loader").builtin_pack()


def expects_agent_events(harnesses: Iterable[Harness]) -> bool:
    return any(harness is not GENERIC_OTEL for harness in harnesses)


def exec_state_path(paths: ArtifactPaths) -> Path:
    return paths.base_dir / "exec.json"


def write_exec_state(paths: ArtifactPaths, state: SessionState) -> None:
    """Let a nested ``ci exec`` (run by our child) join this run instead of clobbering it."""
    write_private(exec_state_path(paths), state.to_json())


def remove_exec_state(paths: ArtifactPaths, session_id: str) -> None:
    path = exec_state_path(paths)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("session_id") == session_id:
            path.unlink()


def exec_state(paths: ArtifactPaths) -> SessionState | None:
    try:
        data = json.loads(exec_state_path(paths).read_text(encoding="utf-8"))
        return SessionState.from_mapping(data)
    except (OSError, ValueError, TypeError):
        return None


def running_exec(paths: ArtifactPaths, environ: Mapping[str, str]) -> SessionState | None:
    """The live ``ci exec`` in this base dir that our caller is nested in, if any.

    Raises when another, unrelated ``ci exec`` is running there: both would
    write the same spool.
    """
    state = exec_state(paths)
    if state is None or not is_ours(state):
        return None
    if environ.get(EXEC_SESSION_ENV) == state.session_id:
        return state
    raise StartupError(
        f"another `beacon ci exec` (pid {state.pid}) is running in {paths.base_dir}",
        hint="give each concurrent run its own --base-dir",
    )


def can_bind_early(settings: CaptureSettings) -> bool:
    # grpc.aio cannot adopt a bound socket: with gRPC the server must be fully
    # up before the child starts (Claude Code never retries a refused connection).
    return settings.receivers == frozenset({"http"})


async def capture(
    argv: Sequence[str],
    settings: CaptureSettings,
    environ: Mapping[str, str],
    *,
    timeout_s: float | None,
    say: Say,
    mask: Say | None = None,
    early_signals: list[int] | None = None,
    registered: Callable[[], None] | None = None,
) -> Capture:
    """Collector up, child run, drain, collector down.

    ``registered`` is called once ``exec.json`` names this run (before the child
    starts): the caller releases the base dir's lock there.

    With HTTP only, the listening socket is bound first and the child starts
    at once; the collector (aiohttp and the OTLP codecs, ~0.3 s of imports)
    comes up while the child runs and the kernel queues its first connections.
    """
    session_id = new_session_id()
    token = new_token()
    paths = settings.paths
    collector: Collector | None = None
    listener: socket.socket | None = None
    warming: asyncio.Future[None] | None = None

    async def start_collector() -> Collector:
        from beacon.collector import Collector, CollectorConfig

        started = Collector(
            CollectorConfig(
                spool_path=paths.spool_path,
                # OTLP/HTTP always: a nested `ci exec` posts its lifecycle there.
                receivers=settings.receivers | {"http"},
                token=token,
                otelcol_path=paths.otelcol_path,
                session_id=session_id,
                http_sockets=(listener,) if listener is not None else (),
                fsync=settings.fsync,
                # This process exists to serve the collector: see beacon.gctune.
                tune_gc=True,
            )
        )
        await started.start()
        return started

    try:
        if can_bind_early(settings):
            listener = bind_http_listener()
            endpoints = {"http": f"http://127.0.0.1:{listener.getsockname()[1]}"}
        else:
            collector = await start_collector()
            endpoints = collector.endpoints
        telemetry = agent_environment(
            settings, paths, environ, endpoints=endpoints, token=token, session_id=session_id
        )
        telemetry[EXEC_SESSION_ENV] = session_id
        write_exec_state(
            paths,
            SessionState.begin(
                settings,
                paths,
                session_id=session_id,
                pid=os.getpid(),
                token=token,
                endpoints=endpoints,
                status_url=f"{endpoints['http']}/beacon/status",
                exports=telemetry,
            ),
        )
        if registered is not None:
            registered()
        endpoint = endpoint_for(settings.protocol, endpoints)
        say(f"collector listening on {endpoint} ({settings.protocol}), session {session_id}")
        for note in protocol_notes(settings.harnesses, settings.protocol):
            say(note)
        if mask is not None:
            mask(token)
        child_env = {**environ, **telemetry}
        cwd = str(Path.cwd())

        async def child_started(pid: int) -> None:
            nonlocal collector, warming
            if collector is None:
                collector = await start_collector()
            warming = asyncio.ensure_future(
                asyncio.to_thread(warm_up_pipeline, rules=expects_agent_events(settings.harnesses))
            )
            await collector.record_lifecycle(
                "child.started",
                child_started_attributes(argv, cwd, pid, prompts=settings.switches.prompts),
            )

        child = await run_child(
            argv,
            child_env,
            timeout_s=timeout_s,
            on_started=child_started,
            early_signals=early_signals,
        )
        held_from = len(early_signals) if early_signals is not None else 0
        assert collector is not None
        await collector.record_lifecycle("child.exited", child_exited(child))
        say(describe_exit(child))
        drain_max = settings.drain_max_s
        if child.cancelled_by is not None:
            drain_max = min(drain_max, CANCELLED_DRAIN_MAX_S)
        # The child has exited, so the kernel has closed its sockets: once every
        # HTTP connection is closed and nothing is in flight, nothing more can
        # come and the quiet period is skipped (with gRPC it still applies).
        drain = await collector.wait_drained(
            quiet=settings.drain_quiet_s, max_wait=drain_max, clients_gone=True
        )
        drain_info = {
            "waited_ms": int(drain.waited_s * 1000),
            "records": int(drain.records),
            "timed_out": bool(drain.timed_out),
            "quiet_skipped": bool(drain.quiet_skipped),
        }
        await collector.record_lifecycle("drain.completed", drain_info)
        say(
            f"drained {drain.records} records in {drain.waited_s:.2f}s"
            + (" (gave up waiting)" if drain.timed_out else "")
        )
    finally:
        remove_exec_state(paths, session_id)
        if collector is not None:
            await collector.stop()
        elif listener is not None:
            listener.close()
        if warming is not None:
            with contextlib.suppress(Exception):
                await warming
    outcome = RunOutcome(
        session_id=session_id,
        child_exit_code=child.exit_code,
        timed_out=child.timed_out,
        cancelled_by=child.cancelled_by,
        working_directory=cwd,
        drain=drain_info,
        collector_token=token,
    )
    return Capture(
        outcome=outcome, child=child, drained_records=int(drain.records), held_from=held_from
    )


async def join_session(
    argv: Sequence[str],
    state: SessionState,
    environ: Mapping[str, str],
    *,
    timeout_s: float | None,
    say: Say,
    early_signals: list[int] | None = None,
) -> ChildResult:
    """Run the child against a live session; lifecycle records go to its spool."""
    say(f"joining session {state.session_id} (validation happens at `session stop`)")
    share_secrets(state, environ, say=say)
    child_env = dict(environ)
    child_env.update(state.exports)
    cwd = str(Path.cwd())

    async def started(pid: int) -> None:
        await asyncio.to_thread(
            post_lifecycle,
            state,
            "child.started",
            child_started_attributes(argv, cwd, pid, prompts=state.prompts),
        )

    child = await run_child(
        argv, child_env, timeout_s=timeout_s, on_started=started, early_signals=early_signals
    )
    await asyncio.to_thread(post_lifecycle, state, "child.exited", child_exited(child))
    say(describe_exit(child))
    return child


def share_secrets(state: SessionState, environ: Mapping[str, str], *, say: Say) -> None:
    """Give the session daemon this step's secret values: ``stop`` redacts them too.

    Only a session has the channel (its credential is in ``session.json``); an outer
    ``ci exec`` runs the pipeline itself, with an environment that holds ours.
    """
    if not state.secrets_token:
        return
    from beacon.run.secrets import give_session_secrets, secret_values

    values = secret_values(environ)
    if not values:
        return
    try:
        give_session_secrets(state.http_base, state.secrets_token, values)
    except OSError:
        say(
            "could not give this step's secret values to the session daemon: "
            "pass --redact-env NAME to `session stop` for the ones it does not see"
        )


def post_lifecycle(state: SessionState, name: str, attributes: Mapping[str, Any]) -> None:
    """Send one lifecycle record to the session's collector; a failure only loses the record."""
    from beacon.otlp.records import lifecycle_request
    from beacon.run.state import request

    message = lifecycle_request(name, dict(attributes), state.session_id)
    with contextlib.suppress(OSError):
        request(
            state,
            "/v1/logs",
            method="POST",
            body=message.SerializeToString(),
            content_type="application/x-protobuf",
        )


def child_started_attributes(
    argv: Sequence[str], cwd: str, pid: int, *, prompts: bool = True
) -> dict[str, Any]:
    """With prompts off, a known agent CLI's prompt argument is replaced by its length."""
    recorded = list(argv) if prompts else mask_prompts(argv)
    return {"command": json.dumps(recorded), "cwd": cwd, "pid": pid}


def child_exited(child: ChildResult) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "exit_code": child.exit_code,
        "duration_ms": int(child.duration_s * 1000),
    }
    if child.signal is not None:
        attributes["signal"] = child.signal
    if child.leftovers_ended:
        attributes["leftovers_ended"] = child.leftovers_ended
    return attributes


def describe_exit(child: ChildResult) -> str:
    how = f"exited {child.exit_code}"
    if child.signal is not None:
        how = f"killed by signal {child.signal} (exit {child.exit_code})"
    if child.timed_out:
        how += ", --timeout expired"
    how = f"child {how} after {child.duration_s:.2f}s"
    if child.leftovers_ended:
        how += f"; ended {child.leftovers_ended} process(es) it left in its process group"
    return how
