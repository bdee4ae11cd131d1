"""``ci report``, and the run report at the end of ``ci exec`` / ``session stop`` (no typer).

The short text goes to stderr, the job summary and step outputs to their GitHub files.
Writing the summary or the outputs never fails a run: a problem becomes a warning.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from beacon.ci import github
from beacon.cli.options import ReportArgs
from beacon.cli.render import Reporter
from beacon.errors import BeaconError, UsageError

if TYPE_CHECKING:
    from beacon.report import Report

#: Bytes of the step summary left to whatever the step writes after beacon.
SUMMARY_MARGIN = 16 * 1024


def append_summary(reporter: Reporter, report: Report, environ: Mapping[str, str]) -> bool:
    """Append the markdown report to ``$GITHUB_STEP_SUMMARY`` when it is set; True if done."""
    from beacon.report import render_markdown
    from beacon.report.markdown import DEFAULT_MAX_BYTES

    path = github.step_summary_path(environ)
    if path is None:
        return False
    try:
        room = min(DEFAULT_MAX_BYTES, github.summary_room(path) - SUMMARY_MARGIN)
        markdown = render_markdown(report, max_bytes=max(room, 0))
        if not markdown:
            reporter.warning("the job summary is full: the run report was not added to it")
            return False
        github.append_step_summary(path, markdown)
    except BeaconError as exc:
        reporter.warning(str(exc))
        return False
    return True


def write_outputs(
    reporter: Reporter,
    report: Report,
    environ: Mapping[str, str],
    *,
    log_path: Path,
    result_path: Path | None,
    report_path: str | None,
) -> None:
    """The step outputs (log-path, status, cost-usd, ...) to ``$GITHUB_OUTPUT`` when set."""
    from beacon.report.outputs import step_outputs

    path = github.output_file_path(environ)
    if path is None:
        return
    values = step_outputs(
        report,
        log_path=str(log_path),
        result_path=str(result_path) if result_path is not None else None,
        report_path=report_path,
    )
    try:
        github.append_env_file(path, values, name="GITHUB_OUTPUT")
    except BeaconError as exc:
        reporter.warning(str(exc))


def publish_run_report(
    reporter: Reporter,
    report: Report | None,
    result: Mapping[str, object],
    environ: Mapping[str, str],
    *,
    log_path: Path,
    result_path: Path,
) -> None:
    """The end of ``ci exec`` / ``session stop``: text, job summary, step outputs."""
    from beacon.report import render_text

    written = result.get("report")
    files = written if isinstance(written, Mapping) else {}
    if report is None:
        if "skipped" in files:
            reporter.status(f"no run report: {files['skipped']}")
        else:
            reporter.warning(str(files.get("error", "no run report")))
        return
    html = files.get("html")
    html_path = html if isinstance(html, str) else None
    reporter.block(render_text(report, report_path=html_path))
    append_summary(reporter, report, environ)
    write_outputs(
        reporter,
        report,
        environ,
        log_path=log_path,
        result_path=result_path,
        report_path=html_path,
    )


FORMATS = ("text", "markdown", "json", "html")


def run_report(args: ReportArgs) -> int:
    from beacon.config import resolve_paths
    from beacon.paths import write_private
    from beacon.report import (
        load_report,
        render_html,
        render_json,
        render_markdown,
        render_text,
    )
    from beacon.report.build import RESULT_NAME, read_result

    if args.fmt not in FORMATS:
        raise UsageError(f"unknown format {args.fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ)
    paths = resolve_paths(args.base_dir, args.log_path, environ)
    log = paths.log_path
    if not log.is_file():
        raise UsageError(f"no runtime log at {log}", hint="pass --log-path or --base-dir")
    result_path = log.parent / RESULT_NAME
    if not result_path.is_file():
        result_path = paths.result_path
    report = load_report(log, session_id=args.session_id, result=read_result(result_path))
    if report.session_id is None:
        wanted = f"run {args.session_id}" if args.session_id else "any beacon run"
        raise UsageError(f"no lines of {wanted} in {log}")
    renderers: dict[str, Callable[[Report], str]] = {
        "text": render_text,
        "markdown": render_markdown,
        "json": render_json,
        "html": render_html,
    }
    if args.output is not None:
        try:
            write_private(args.output, renderers[args.fmt](report).rstrip("\n") + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
        reporter.status(f"wrote the {args.fmt} report to {args.output}")
    elif args.fmt == "markdown" and append_summary(reporter, report, environ):
        reporter.status("appended the report to the job summary (GITHUB_STEP_SUMMARY)")
    else:
        sys.stdout.write(renderers[args.fmt](report).rstrip("\n") + "\n")
    written = (report.result or {}).get("report")
    html = written.get("html") if isinstance(written, dict) else None
    write_outputs(
        reporter,
        report,
        environ,
        log_path=log,
        result_path=result_path if report.result is not None else None,
        report_path=str(args.output) if args.output is not None else html,
    )
    return 0
