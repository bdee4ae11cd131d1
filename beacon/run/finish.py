"""The end of every run, shared by ``ci exec`` and ``session stop``.

:func:`finish_run` turns a closed spool into runtime.jsonl (the pipeline),
decides the exit code, writes ``result.json`` and removes the raw spool when
that is safe. It is synchronous and CPU-bound: call it after the event loop.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beacon.agents.harnesses import Harness
from beacon.config import FinishSettings
from beacon.errors import ExitCode
from beacon.paths import FILE_MODE, ArtifactPaths

if TYPE_CHECKING:
    from beacon.rules.stage import RulesOutcome

#: The name the collector token is redacted under (never exported anywhere).
TOKEN_NAME = "BEACON_COLLECTOR_TOKEN"  # noqa: S105 - a name, not a secret


@dataclass(frozen=True)
class RunOutcome:
    """What the capture stage learned, handed to :func:`finish_run`."""

    session_id: str
    child_exit_code: int | None = None
    timed_out: bool = False
    cancelled_by: int | None = None
    working_directory: str | None = None
    drain: Mapping[str, Any] | None = None
    collector_token: str | None = None
    """The run's bearer token: redacted if an agent ever prints its environment."""


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    result: dict[str, Any]
    events_written: int = 0
    validation_messages: list[str] = field(default_factory=list)


def decide_exit_code(
    *,
    child_exit_code: int | None,
    timed_out: bool,
    validation_status: str | None,
    require_telemetry: bool,
    upload_failed: bool = False,
    cancelled_by: int | None = None,
    policy_failed: bool = False,
) -> int:
    """The documented precedence (docs/exit-codes.md): timeout, child, cancelled, policy,
    validation, upload."""
    if timed_out:
        return int(ExitCode.TIMEOUT)
    if child_exit_code:
        return child_exit_code
    if cancelled_by is not None:
        # The child finished cleanly after being cancelled; the job was still cancelled.
        return 128 + cancelled_by
    if policy_failed:
        return int(ExitCode.POLICY_FAILED)
    if validation_status == "fail" and require_telemetry:
        return int(ExitCode.VALIDATION_FAILED)
    if upload_failed:
        return int(ExitCode.UPLOAD_FAILED)
    return int(ExitCode.OK)


def pipeline_validation(
    *,
    paths: ArtifactPaths,
    outcome: RunOutcome,
    harnesses: tuple[Harness, ...],
    settings: FinishSettings,
    environ: Mapping[str, str],
) -> tuple[dict[str, Any], int]:
    """Run the pipeline over the spool; returns (validation dict, events written)."""
    from beacon.pipeline import PipelineOptions, RedactionSettings, run_pipeline

    redact_env = list(settings.redact_env)
    redaction_environ = dict(environ)
    if outcome.collector_token:
        redaction_environ[TOKEN_NAME] = outcome.collector_token
        redact_env.append(TOKEN_NAME)
    options = PipelineOptions(
        session_id=outcome.session_id,
        log_path=paths.log_path,
        harnesses=tuple(h.name for h in harnesses),
        environ=dict(environ),
        redaction=RedactionSettings.from_environ(
            redaction_environ,
            redact_env=redact_env,
            patterns=list(settings.redact_patterns),
        ),
        working_directory=outcome.working_directory,
        min_events=settings.min_events,
        require_actions=settings.require_actions,
    )
    result = run_pipeline(paths.spool_path, options)
    validation: dict[str, Any] = result.validation.to_dict()
    return validation, int(result.events_written)


def finish_run(
    *,
    paths: ArtifactPaths,
    outcome: RunOutcome,
    harnesses: tuple[Harness, ...],
    settings: FinishSettings,
    environ: Mapping[str, str],
) -> RunResult:
    log_start = _size(paths.log_path)
    validation, events = pipeline_validation(
        paths=paths, outcome=outcome, harnesses=harnesses, settings=settings, environ=environ
    )
    status = validation.get("status")
    rules = run_rules(paths.log_path, log_start, outcome.session_id, settings)
    exit_code = decide_exit_code(
        child_exit_code=outcome.child_exit_code,
        timed_out=outcome.timed_out,
        validation_status=status,
        require_telemetry=settings.require_telemetry,
        cancelled_by=outcome.cancelled_by,
        policy_failed=rules is not None and rules.policy_failed,
    )
    result = result_object(outcome=outcome, exit_code=exit_code, validation=validation)
    result["events_written"] = events
    if rules is not None:
        result["findings"] = [finding.to_dict() for finding in rules.findings]
        result["findings_summary"] = rules.summary
    write_result(paths, result)
    if status != "fail" and not settings.keep_spool:
        with contextlib.suppress(FileNotFoundError):
            paths.spool_path.unlink()
    return RunResult(exit_code=exit_code, result=result, events_written=events)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def run_rules(
    log_path: Path, start: int, session_id: str, settings: FinishSettings
) -> RulesOutcome | None:
    """The rules stage over this run's lines (None with ``--no-rules`` and no budget)."""
    if not settings.rules.active:
        return None
    from beacon.rules.stage import evaluate_run

    return evaluate_run(log_path, start=start, session_id=session_id, settings=settings.rules)


def result_object(
    *, outcome: RunOutcome, exit_code: int, validation: Mapping[str, Any] | None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "session_id": outcome.session_id,
        "child_exit_code": outcome.child_exit_code,
        "exit_code": exit_code,
        "validation": dict(validation) if validation is not None else None,
        "uploads": [],
    }
    if outcome.timed_out:
        result["timed_out"] = True
    if outcome.drain is not None:
        result["drain"] = dict(outcome.drain)
    return result


def write_result(paths: ArtifactPaths, result: Mapping[str, Any]) -> None:
    write_private(paths.result_path, json.dumps(result, indent=2) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write a 0600 file atomically (readers never see half of it)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        temporary.chmod(FILE_MODE)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


@contextlib.contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """Keep SIGINT/SIGTERM/SIGHUP from killing beacon while it writes the log.

    After the child is gone, a cancelled job's next signal must not lose
    runtime.jsonl; the signals received are collected for the exit code.
    """
    import signal

    received: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.getsignal(signum) for signum in watched}

    def record(signum: int, _frame: object) -> None:
        received.append(signum)

    for signum in watched:
        signal.signal(signum, record)
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
