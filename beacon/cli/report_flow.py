"""Showing a run report: the short text on stderr, the job summary and step outputs on Actions.

Shared by the end of ``ci exec`` / ``session stop`` and by ``ci report``. Writing the
summary or the outputs never fails a run: a problem becomes a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from beacon.ci import github
from beacon.cli.render import Reporter
from beacon.errors import BeaconError

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
