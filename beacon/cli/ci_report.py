"""``beacon ci report``: the run report of runtime.jsonl (the most recent run by default).

Thin: flags -> :func:`beacon.report.load_report` -> a format -> stdout, a file, or (markdown
on GitHub Actions) the job summary. The ``result.json`` beside the log adds the verdict,
exit codes and findings, so the command also works on a downloaded artifact.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from beacon.cli import options as o
from beacon.cli.app import ci_app

REPORT_HELP = """Report what the agent did in one run: duration, verdict, cost and tokens
per model, API requests, tools, commands, files, approvals, prompts, redactions,
findings (docs/report.md).

Markdown on GitHub Actions (GITHUB_STEP_SUMMARY set, no --output) is appended to
the job summary; the step outputs go to GITHUB_OUTPUT when it is set.

Exit code: 0 when the report was made, 2 on bad usage or a missing log.
"""
FORMATS = ("text", "markdown", "json", "html")

SessionId = Annotated[
    str | None,
    typer.Option(
        "--session-id", help="The beacon run to report (default: the most recent run in the log)."
    ),
]
Format = Annotated[str, typer.Option("--format", help="text (default), markdown, json or html.")]
Output = Annotated[
    Path | None,
    typer.Option(
        "--output", help="Write the report to this file instead of stdout.", dir_okay=False
    ),
]


@ci_app.command("report", help=REPORT_HELP)
def report_command(
    base_dir: o.BaseDir = None,
    log_path: o.LogPath = None,
    session_id: SessionId = None,
    fmt: Format = "text",
    output: Output = None,
) -> None:
    import os

    from beacon.cli.render import Reporter
    from beacon.cli.report_flow import append_summary, write_outputs
    from beacon.config import resolve_paths
    from beacon.errors import UsageError
    from beacon.paths import write_private
    from beacon.report import (
        Report,
        load_report,
        render_html,
        render_json,
        render_markdown,
        render_text,
    )
    from beacon.report.build import RESULT_NAME, read_result

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    environ = dict(os.environ)
    reporter = Reporter.for_environ(environ)
    paths = resolve_paths(base_dir, log_path, environ)
    log = paths.log_path
    if not log.is_file():
        raise UsageError(f"no runtime log at {log}", hint="pass --log-path or --base-dir")
    result_path = log.parent / RESULT_NAME
    if not result_path.is_file():
        result_path = paths.result_path
    result = read_result(result_path)
    report = load_report(log, session_id=session_id, result=result)
    if report.session_id is None:
        raise UsageError(
            f"no lines of {'run ' + session_id if session_id else 'any beacon run'} in {log}"
        )
    renderers: dict[str, Callable[[Report], str]] = {
        "text": render_text,
        "markdown": render_markdown,
        "json": render_json,
        "html": render_html,
    }
    if output is not None:
        write_private(output, renderers[fmt](report).rstrip("\n") + "\n")
        reporter.status(f"wrote the {fmt} report to {output}")
    elif fmt == "markdown" and append_summary(reporter, report, environ):
        reporter.status("appended the report to the job summary (GITHUB_STEP_SUMMARY)")
    else:
        typer.echo(renderers[fmt](report).rstrip("\n"))
    written = (report.result or {}).get("report")
    html = written.get("html") if isinstance(written, dict) else None
    write_outputs(
        reporter,
        report,
        environ,
        log_path=log,
        result_path=result_path if report.result is not None else None,
        report_path=str(output) if output is not None else html,
    )
