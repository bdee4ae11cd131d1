"""Glue shared by the ci exec / ci session commands: settings from flags, finishing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from beacon.cli.argv import require_telemetry
from beacon.cli.render import Reporter, describe_validation
from beacon.config import CaptureSettings, FinishSettings, parse_bool
from beacon.errors import UsageError
from beacon.exports.settings import ExportSettings, build_export_settings
from beacon.paths import ArtifactPaths
from beacon.rules.settings import rules_settings
from beacon.run.finish import RunResult

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: str, *, option: str) -> float:
    """``90``, ``90s``, ``1.5m``, ``6h``, ``200ms`` → seconds."""
    match = _DURATION.match(value)
    if not match:
        raise UsageError(f"invalid duration {value!r} for {option}", hint="e.g. 30, 30s, 5m, 6h")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


class CaptureFlags(Protocol):
    """The flags that say what to capture (``ExecArgs`` and ``StartArgs`` both carry them)."""

    protocol: str
    receivers: str | None
    harness: list[str]
    no_traces: bool
    no_prompts: bool
    no_tool_details: bool
    drain_quiet: str
    drain_max: str
    fsync: str


def capture_settings(flags: CaptureFlags, paths: ArtifactPaths) -> CaptureSettings:
    return CaptureSettings.build(
        paths=paths,
        protocol=flags.protocol,
        receivers=flags.receivers,
        harness=flags.harness or ["claude"],
        traces=not flags.no_traces,
        prompts=not flags.no_prompts,
        tool_details=not flags.no_tool_details,
        drain_quiet_s=parse_duration(flags.drain_quiet, option="--drain-quiet"),
        drain_max_s=parse_duration(flags.drain_max, option="--drain-max"),
        fsync=flags.fsync,
    )


class FinishFlags(Protocol):
    """The flags that say how a run ends (``ExecArgs`` and ``StopArgs`` both carry them)."""

    require_telemetry: str | None
    no_require_telemetry: bool
    keep_spool: bool
    min_events: int
    require_action: list[str]
    redact_env: list[str]
    redact_pattern: list[str]
    upload: list[str]
    upload_layout: str | None
    upload_key: str | None
    upload_gzip: bool
    upload_required: str | None
    upload_sse: str | None
    upload_sse_kms_key_id: str | None
    forward: list[str]
    forward_endpoint: str | None
    forward_protocol: str | None
    forward_header: list[str]
    rules: list[str]
    no_rules: bool
    fail_on: str | None
    budget: list[str]


class UploadFlags(Protocol):
    upload: list[str]
    upload_layout: str | None
    upload_key: str | None
    upload_gzip: bool
    upload_required: str | None
    upload_sse: str | None
    upload_sse_kms_key_id: str | None


def export_settings(
    flags: UploadFlags, environ: Mapping[str, str], forwards: FinishFlags | None = None
) -> ExportSettings:
    """Checked before the child runs: a missing bucket is exit 2, not a failure at the end."""
    required = flags.upload_required
    return build_export_settings(
        upload=flags.upload,
        layout=flags.upload_layout,
        key_template=flags.upload_key,
        gzip=flags.upload_gzip,
        required=True if required is None else parse_bool(required, option="--upload-required"),
        sse=flags.upload_sse,
        sse_kms_key_id=flags.upload_sse_kms_key_id,
        forward=forwards.forward if forwards else [],
        forward_endpoint=forwards.forward_endpoint if forwards else None,
        forward_protocol=forwards.forward_protocol if forwards else None,
        forward_header=forwards.forward_header if forwards else [],
        environ=environ,
    )


def finish_settings(flags: FinishFlags, environ: Mapping[str, str]) -> FinishSettings:
    redact_pattern = flags.redact_pattern
    for pattern in redact_pattern:
        # Checked before the child runs, not after it has done its work.
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(
                f"invalid --redact-pattern {pattern!r}: {exc}",
                hint="use a Python regular expression",
            ) from exc
    return FinishSettings(
        require_telemetry=require_telemetry(flags.require_telemetry, flags.no_require_telemetry),
        keep_spool=flags.keep_spool,
        min_events=flags.min_events,
        require_actions=tuple(flags.require_action),
        redact_env=tuple(flags.redact_env),
        redact_patterns=tuple(redact_pattern),
        exports=export_settings(flags, environ, flags),
        rules=rules_settings(flags.rules, flags.no_rules, flags.fail_on, flags.budget),
    )


def report_finish(
    reporter: Reporter,
    run: RunResult,
    *,
    log_path: Path,
    require_telemetry: bool,
    paths: ArtifactPaths,
    environ: Mapping[str, str],
) -> None:
    validation = run.result.get("validation") or {}
    status = validation.get("status", "unknown")
    for warning in run.warnings:
        reporter.warning(warning)
    reporter.status(f"wrote {run.events_written} events to {log_path}")
    details = describe_validation(validation)
    if status == "fail":
        message = "telemetry validation failed" + (f": {'; '.join(details)}" if details else "")
        if require_telemetry:
            reporter.error(message)
        else:
            reporter.warning(message + " (--require-telemetry=false: not failing the step)")
    elif status == "warn":
        reporter.warning("telemetry validation: " + ("; ".join(details) or "warnings"))
    else:
        count = validation.get("event_count")
        reporter.status(f"validation {status}" + (f" ({count} harness events)" if count else ""))
    report_findings(reporter, run.result)
    report_exports(reporter, run.result)
    from beacon.cli.report_flow import publish_run_report

    publish_run_report(
        reporter, run.report, run.result, environ, log_path=log_path, result_path=paths.result_path
    )
    reporter.result(run.result)


def report_exports(reporter: Reporter, result: Mapping[str, Any]) -> None:
    """One line per object written (its key) and per forward; failures as errors."""
    for entry in result.get("uploads") or ():
        scheme = str(entry.get("destination", "")).split("://")[0]
        where = f"{scheme}://{entry.get('bucket')}/{entry.get('key')}"
        if entry.get("status") == "ok":
            reporter.status(f"uploaded {where} ({entry.get('bytes')} bytes)")
        else:
            reporter.error(f"upload failed: {entry.get('error') or where}")
    for entry in result.get("forwards") or ():
        status = entry.get("status")
        target = f"{entry.get('kind')} {entry.get('endpoint') or ''}".strip()
        if status == "ok":
            reporter.status(f"forwarded to {target} ({entry.get('requests', 0)} requests)")
        elif status == "skipped":
            reporter.status(f"forward {target} skipped: {entry.get('error')}")
        else:
            reporter.error(f"forward to {target} failed: {entry.get('error')}")


def kept_spool(spool_path: Path) -> str | None:
    """The raw spool's path when one is left on disk (for the message that must name it)."""
    return str(spool_path) if spool_path.exists() else None


def kept_note(kept: str | None) -> str:
    if kept is None:
        return ""
    return (
        f"; the raw (unredacted) spool is kept at {kept}: fix the cause, then process it "
        "with the next `beacon ci exec` or `session stop` in this base dir, or delete it"
    )


def report_findings(reporter: Reporter, result: Mapping[str, Any]) -> None:
    """One stderr line per finding; on Actions an ::error:: (at/above --fail-on) or ::warning::."""
    findings = result.get("findings")
    summary = result.get("findings_summary") or {}
    if findings is None:
        return
    from beacon.rules.model import severity_rank

    fail_on = summary.get("fail_on")
    for finding in findings:
        line = finding_line(finding)
        failing = fail_on is not None and severity_rank(finding["severity"]) >= severity_rank(
            fail_on
        )
        reporter.finding(line, failing=failing)
    for item in summary.get("rule_errors") or []:
        reporter.warning(
            f"rule {item['rule_id']} failed on {item['events']} event(s): {item['error']}"
        )
    inapplicable = summary.get("not_applicable") or []
    if inapplicable:
        names = ", ".join(
            f"{i['rule_id']} ({', '.join(i['missing_fields'])})" for i in inapplicable[:5]
        )
        more = f" and {len(inapplicable) - 5} more" if len(inapplicable) > 5 else ""
        reporter.status(
            f"{len(inapplicable)} rule(s) could not apply: fields they read are absent from "
            f"this run (tool details off, or the harness does not send them): {names}{more}"
        )
    counts = summary.get("counts") or {}
    listed = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    gate = (
        f"; --fail-on {fail_on}: {summary.get('at_or_above_fail_on', 0)} at or above"
        if fail_on
        else ""
    )
    reporter.status(f"rules: {len(findings)} finding(s){f' ({listed})' if listed else ''}{gate}")


def finding_line(finding: Mapping[str, Any]) -> str:
    session = f" session {finding['session_id']}" if finding.get("session_id") else ""
    excerpt = next((e.get("excerpt") for e in finding.get("events", []) if e.get("excerpt")), "")
    tail = f" [{excerpt}]" if excerpt else ""
    return (
        f"finding {finding['severity']} {finding['rule_id']}{session}: "
        f"{finding['title']}: {finding['reason']}{tail}"
    )
