"""The run report: runtime.jsonl (+ result.json) -> figures -> text / markdown / json / html.

Pure except :func:`write_reports` and :func:`load_report` (file I/O). Never imports the
collector or the pipeline; the run's end (``beacon.run.finish``) and ``ci report``
call it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from beacon.paths import ArtifactPaths, write_private
from beacon.report.build import REPORT_VERSION, Report, build_report, load_report
from beacon.report.html import render_html
from beacon.report.markdown import render_markdown
from beacon.report.text import render_text

__all__ = [
    "REPORT_VERSION",
    "Report",
    "build_report",
    "load_report",
    "render_html",
    "render_json",
    "render_markdown",
    "render_text",
    "write_reports",
]


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_reports(paths: ArtifactPaths, report: Report) -> dict[str, str]:
    """report.json, report.md and report.html beside result.json; returns their paths."""
    written = {
        "json": paths.report_json_path,
        "markdown": paths.report_markdown_path,
        "html": paths.report_html_path,
    }
    write_private(written["json"], render_json(report))
    write_private(written["markdown"], render_markdown(report))
    write_private(written["html"], render_html(report))
    return {kind: str(path) for kind, path in written.items()}


def report_for_run(paths: ArtifactPaths, result: Mapping[str, Any], start: int = 0) -> Report:
    """The report of the run that just finished: its lines (from byte ``start`` of the
    log) and its in-memory result object."""
    session_id = result.get("session_id")
    return load_report(
        paths.log_path,
        session_id=session_id if isinstance(session_id, str) else None,
        result=result,
        start=start,
    )
