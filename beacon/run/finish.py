"""The end of every run, shared by ``ci exec`` and ``session stop``.

:func:`finish_run` turns a closed spool into runtime.jsonl (the pipeline),
decides the exit code, writes ``result.json`` and removes the raw spool when
that is safe. It is synchronous and CPU-bound: call it after the event loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beacon.agents.harnesses import Harness, Switches
from beacon.config import FinishSettings
from beacon.errors import ExitCode
from beacon.paths import ArtifactPaths
from beacon.paths import write_private as write_private  # re-exported: run/exec, run/session

ALL_CONTENT = Switches()  # no content withheld

if TYPE_CHECKING:
    from beacon.pipeline import RedactionSettings
    from beacon.pipeline.rollback import Rollback
    from beacon.report import Report
    from beacon.rules.stage import RulesOutcome

CANCELLED_REPORT = "the run was cancelled; make the report with `beacon ci report`"

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
    original_destination: Mapping[str, str] | None = None
    """The job's own OTEL_EXPORTER_OTLP_* (session.json); None: read them from the environment."""


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    result: dict[str, Any]
    events_written: int = 0
    validation_messages: list[str] = field(default_factory=list)
    report: Report | None = None
    """The run report (None when it could not be made: ``result["report"]["error"]``)."""
    warnings: list[str] = field(default_factory=list)
    """Run-level warnings (also in ``result.json``): the CLI prints each once."""


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


def redaction_settings(
    *,
    outcome: RunOutcome,
    settings: FinishSettings,
    environ: Mapping[str, str],
    secret_values: Sequence[str] = (),
) -> RedactionSettings:
    """The runtime log's redaction: also applied to everything beacon forwards.

    ``secret_values``: values other steps of the session saw (``beacon.run.secrets``).
    """
    from beacon.pipeline import RedactionSettings

    redact_env = list(settings.redact_env)
    redaction_environ = dict(environ)
    if outcome.collector_token:
        redaction_environ[TOKEN_NAME] = outcome.collector_token
        redact_env.append(TOKEN_NAME)
    redaction = RedactionSettings.from_environ(
        redaction_environ, redact_env=redact_env, patterns=list(settings.redact_patterns)
    )
    if secret_values:
        merged = set(redaction.env_values) | {v for v in secret_values if v}
        redaction = dataclasses.replace(redaction, env_values=tuple(sorted(merged)))
    return redaction


@dataclass(frozen=True)
class Processed:
    """One spool through the pipeline: what ``pipeline_validation`` returns."""

    validation: dict[str, Any]
    events_written: int
    warnings: list[str]
    log_start: int
    """The log's size before this run's lines (the rules and the report read from it)."""
    kept: bool
    """The raw spool stays on purpose (``--keep-spool``, failed validation)."""


def keeps_spool(validation_status: str | None, settings: FinishSettings) -> bool:
    return validation_status == "fail" or settings.keep_spool


def pipeline_validation(
    *,
    paths: ArtifactPaths,
    outcome: RunOutcome,
    harnesses: tuple[Harness, ...],
    settings: FinishSettings,
    environ: Mapping[str, str],
    switches: Switches = ALL_CONTENT,
    spool_path: Path | None = None,
    secret_values: Sequence[str] = (),
    may_keep: bool = True,
    say: Callable[[str], None] | None = None,
) -> Processed:
    """Run the pipeline over the spool, bracketed by the ledger (``beacon.run.ledger``).

    ``may_keep``: False for a leftover spool, which goes once processed whatever
    its verdict. ``say``: told when the run waits for another run's write.
    """
    from beacon.pipeline import PipelineOptions, run_pipeline
    from beacon.pipeline.content import withheld_attributes
    from beacon.run.ledger import processing

    options = PipelineOptions(
        session_id=outcome.session_id,
        log_path=paths.log_path,
        harnesses=tuple(h.name for h in harnesses),
        environ=dict(environ),
        redaction=redaction_settings(
            outcome=outcome, settings=settings, environ=environ, secret_values=secret_values
        ),
        working_directory=outcome.working_directory,
        min_events=settings.min_events,
        require_actions=settings.require_actions,
        withheld=withheld_attributes(prompts=switches.prompts, tool_details=switches.tool_details),
    )
    with processing(paths, outcome.session_id, say=say) as run:
        result = run_pipeline(spool_path or paths.spool_path, options)
        validation: dict[str, Any] = result.validation.to_dict()
        run.kept = may_keep and keeps_spool(validation.get("status"), settings)
    warnings = [rolled_back_warning(rollback, paths.log_path) for rollback in run.rolled_back]
    if result.log_tail_repaired:
        warnings.append(
            f"{paths.log_path} ended in a torn line (an earlier writer was stopped mid-line); "
            "it was ended with a newline before this run's lines. That line stays unreadable: "
            "validation reports it as another run's damage"
        )
    return Processed(
        validation=validation,
        events_written=int(result.events_written),
        warnings=warnings,
        log_start=run.log_start,
        kept=run.kept,
    )


def written_before(
    *,
    paths: ArtifactPaths,
    outcome: RunOutcome,
    harnesses: tuple[Harness, ...],
    settings: FinishSettings,
) -> Processed | None:
    """The run's lines when they are in the log already, else None.

    A finish stopped after its lines were written (a ``session stop`` killed
    during its uploads) is finished again by the next ``session stop``: its
    lines are checked where they are, never written twice.
    """
    from beacon.run.ledger import read_ledger

    ledger = read_ledger(paths)
    if outcome.session_id not in ledger.done:
        return None
    from beacon.pipeline import validate_log

    validation = validate_log(
        paths.log_path,
        session_id=outcome.session_id,
        harnesses=tuple(h.name for h in harnesses),
        min_events=settings.min_events,
        require_actions=settings.require_actions,
    ).to_dict()
    warning = (
        f"run {outcome.session_id}'s lines were already in {paths.log_path} (its earlier "
        "finish was stopped after writing them): they were checked, not written again"
    )
    return Processed(
        validation=validation,
        events_written=int(validation.get("event_count") or 0),
        warnings=[warning],
        log_start=ledger.offsets.get(outcome.session_id, 0),
        kept=outcome.session_id in ledger.kept,
    )


def rolled_back_warning(rollback: Rollback, log_path: Path) -> str:
    how = {
        "truncated": f"{log_path} was truncated back to where they began",
        "rewritten": f"{log_path} was rewritten without them",
    }.get(rollback.method)
    if how is None:
        return (
            f"run {rollback.session_id} was stopped while it processed its spool, before "
            "writing any line; its spool is processed again"
        )
    return (
        f"run {rollback.session_id} was stopped while it wrote its lines: its {rollback.lines} "
        f"partial lines were taken out ({how}); its spool is processed again, once"
    )


def finish_run(
    *,
    paths: ArtifactPaths,
    outcome: RunOutcome,
    harnesses: tuple[Harness, ...],
    settings: FinishSettings,
    environ: Mapping[str, str],
    switches: Switches = ALL_CONTENT,
    spool_path: Path | None = None,
    recovered: list[dict[str, Any]] | None = None,
    secret_values: Sequence[str] = (),
    say: Callable[[str], None] | None = None,
) -> RunResult:
    """``spool_path``: the run's spool when not ``paths.spool_path`` (a session's spool
    an exec set aside); ``recovered``: other runs' spools processed first (leftovers);
    ``say``: live status (a wait for another run's write to the log)."""
    spool = spool_path or paths.spool_path
    processed = written_before(
        paths=paths, outcome=outcome, harnesses=harnesses, settings=settings
    ) or pipeline_validation(
        paths=paths,
        outcome=outcome,
        harnesses=harnesses,
        settings=settings,
        environ=environ,
        switches=switches,
        spool_path=spool,
        secret_values=secret_values,
        say=say,
    )
    validation, events, log_start = (
        processed.validation,
        processed.events_written,
        processed.log_start,
    )
    warnings = [*recovered_warnings(recovered or []), *processed.warnings]
    status = validation.get("status")
    rules = run_rules(paths.log_path, log_start, outcome.session_id, settings)

    def decide(upload_failed: bool = False) -> int:
        return decide_exit_code(
            child_exit_code=outcome.child_exit_code,
            timed_out=outcome.timed_out,
            validation_status=status,
            require_telemetry=settings.require_telemetry,
            upload_failed=upload_failed,
            cancelled_by=outcome.cancelled_by,
            policy_failed=rules is not None and rules.policy_failed,
        )

    result = result_object(outcome=outcome, exit_code=decide(), validation=validation)
    result["events_written"] = events
    if rules is not None:
        result["findings"] = [finding.to_dict() for finding in rules.findings]
        result["findings_summary"] = rules.summary
    if recovered:
        result["recovered"] = recovered
    if warnings:
        result["warnings"] = warnings
    if spool.exists() and processed.kept:
        # Kept for troubleshooting; the ledger keeps it from being processed again.
        result["spool_path"] = str(spool)
    if outcome.cancelled_by is None:
        report = run_report(paths, result, log_start)
    else:
        # The runner's SIGKILL follows its cancel by seconds: result.json first; the
        # report can be made afterwards from the artifacts.
        report = None
        result["report"] = {"skipped": CANCELLED_REPORT}
    if settings.exports.configured:
        export_run(
            paths=paths,
            outcome=outcome,
            settings=settings,
            environ=environ,
            result=result,
            decide=decide,
            secret_values=secret_values,
            switches=switches,
        )
    exit_code = int(result["exit_code"])
    write_result(paths, result)
    from beacon.agents.codex import remove_codex_home  # tomllib: only when finishing

    remove_codex_home(paths.base_dir)
    if not processed.kept:
        with contextlib.suppress(FileNotFoundError):
            spool.unlink()
    return RunResult(
        exit_code=exit_code, result=result, events_written=events, report=report, warnings=warnings
    )


def run_report(paths: ArtifactPaths, result: dict[str, Any], log_start: int = 0) -> Report | None:
    """Write report.json/.md/.html beside result.json; their paths go into ``result["report"]``.

    A report that cannot be made never fails the run (the log and the verdict are
    already written): the reason is in the result, and the CLI warns.
    """
    from beacon.report import report_for_run, write_reports

    try:
        report = report_for_run(paths, result, log_start)
        result["report"] = write_reports(paths, report)
    except Exception as exc:  # a report bug must not fail the agent's run
        error = f"the run report could not be written: {type(exc).__name__}: {exc}"
        result["report"] = {"error": error}
        return None
    return report


def export_run(
    *,
    paths: ArtifactPaths,
    outcome: RunOutcome,
    settings: FinishSettings,
    environ: Mapping[str, str],
    result: dict[str, Any],
    decide: Callable[[bool], int],
    secret_values: Sequence[str] = (),
    switches: Switches = ALL_CONTENT,
) -> None:
    """Uploads and forwards (beacon.exports); fills ``uploads``/``forwards``/``exit_code``.

    ``result.json`` is written, then uploaded last: the stored copy lists every
    other object; the local copy, rewritten by the caller, lists result.json too.
    """
    from beacon.agents.harnesses import original_destination
    from beacon.exports import stage
    from beacon.pipeline.redact import Redactor

    exports = settings.exports
    from beacon.pipeline.content import withheld_attributes

    plan = stage.plan_exports(
        paths=paths,
        session_id=outcome.session_id,
        settings=exports,
        environ=environ,
        withheld=withheld_attributes(prompts=switches.prompts, tool_details=switches.tool_details),
    )
    redaction = redaction_settings(
        outcome=outcome, settings=settings, environ=environ, secret_values=secret_values
    )
    redactor = Redactor(
        literal_values=redaction.env_values, user_patterns=redaction.compiled_patterns()
    )
    original = outcome.original_destination
    if original is None:
        original = original_destination(environ)
    try:
        uploads, forwards = stage.export_data(plan, redactor=redactor, original=original)
    except Exception as exc:  # a bug must not lose result.json
        uploads = [stage.unexpected_failure(target, exc) for target in exports.uploads]
        forwards = []
    result["uploads"] = uploads
    if exports.forwards:
        result["forwards"] = forwards
    broken = exports.required and (stage.failed(uploads) or stage.failed(forwards))
    result["exit_code"] = decide(broken)
    text = json.dumps(result, indent=2) + "\n"
    write_private(paths.result_path, text)
    try:
        stored = stage.upload_result(plan, text.encode("utf-8"))
    except Exception as exc:
        stored = [stage.unexpected_failure(target, exc) for target in exports.uploads]
    result["uploads"] = uploads + stored
    if exports.required and stage.failed(stored):
        result["exit_code"] = decide(True)


def recovered_warnings(recovered: list[dict[str, Any]]) -> list[str]:
    """One warning per leftover spool: what was recovered, or where it still is."""
    warnings: list[str] = []
    for entry in recovered:
        warnings.extend(entry.get("warnings") or ())
        if entry.get("error"):
            warnings.append(
                f"the spool of run {entry['session_id']} could not be processed "
                f"({entry['error']}); the raw (unredacted) spool is kept at {entry['spool_path']}"
            )
        elif entry.get("left_for"):
            warnings.append(
                f"the spool of run {entry['session_id']} is set aside at "
                f"{entry['spool_path']}: {entry['left_for']} processes it"
            )
        elif entry.get("already_processed"):
            warnings.append(
                f"the raw spool of run {entry['session_id']} ({entry['spool_path']}) was "
                "left behind after its lines were written (its run was stopped before it "
                "deleted it); it is deleted now"
            )
        else:
            warnings.append(
                f"recovered run {entry['session_id']}: {entry['events_written']} events from a "
                f"spool it left behind ({entry['spool_path']}, now deleted), validation "
                f"{entry['validation_status']}"
            )
    return warnings


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
    if outcome.cancelled_by is not None:
        # The signal beacon received (and forwarded): the job was cancelled.
        result["cancelled_by"] = outcome.cancelled_by
    if outcome.drain is not None:
        result["drain"] = dict(outcome.drain)
    return result


def write_result(paths: ArtifactPaths, result: Mapping[str, Any]) -> None:
    write_private(paths.result_path, json.dumps(result, indent=2) + "\n")


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
