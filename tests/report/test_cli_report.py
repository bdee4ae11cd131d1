"""``beacon ci report`` and the report at the end of ``ci exec``, as a CI job runs them."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from beacon.ci.github import STEP_SUMMARY_LIMIT, parse_env_file
from beacon.report.outputs import OUTPUT_NAMES
from beacon.run.finish import CANCELLED_REPORT
from tests.cli.helpers import beacon, clean_env, signal_and_wait, start_waiting_exec

from .helpers import fixture_run_requests, pipeline_log

FINDINGS = [
    {
        "rule_id": "secrets.cat_env",
        "title": "Environment dumped",
        "severity": "high",
        "posture": "fail",
        "session_id": "517e1928",
        "reason": "the agent printed its environment",
        "events": [],
        "kind": "match",
    }
]


def actions_env(root: Path, **extra: str) -> dict[str, str]:
    files = {name: root / name for name in ("github_output", "step_summary")}
    for path in files.values():
        path.touch()
    return clean_env(
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(files["github_output"]),
        GITHUB_STEP_SUMMARY=str(files["step_summary"]),
        **extra,
    )


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A downloaded artifact: runtime.jsonl of the recorded runs and a result.json."""
    root = tmp_path_factory.mktemp("artifact")
    log = pipeline_log(root, fixture_run_requests("http-json"), name="runtime")
    result = {
        "session_id": "run-1",
        "child_exit_code": 0,
        "exit_code": 7,
        "validation": {
            "status": "warn",
            "event_count": 30,
            "stages": [{"name": "spool_health", "status": "warn", "message": "a gap"}],
        },
        "events_written": 48,
        "findings": FINDINGS,
        "findings_summary": {"high": 1},
    }
    (root / "result.json").write_text(json.dumps(result))
    return log


def test_every_format_of_a_downloaded_artifact(artifact: Path, tmp_path: Path) -> None:
    env = clean_env()
    text = beacon("ci", "report", "--log-path", str(artifact), env=env, check=True).stdout
    assert 3 <= len(text.strip().splitlines()) <= 4
    assert text.startswith("beacon report: run run-1 FAIL")  # exit code 7 (policy)
    assert "validation warn (spool_health)" in text and "cost $0.0054" in text

    out = beacon(
        "ci", "report", "--log-path", str(artifact), "--format", "json", env=env, check=True
    )
    document = json.loads(out.stdout)
    assert document["report_version"] == "1"
    assert document["run"]["exit_code"] == 7
    assert document["findings"]["items"] == FINDINGS
    assert document["run"]["validation"]["failing_stages"][0]["name"] == "spool_health"

    markdown = beacon(
        "ci", "report", "--log-path", str(artifact), "--format", "markdown", env=env, check=True
    ).stdout
    assert "#### Findings (1: 1 high)" in markdown
    # Text from the run is literal: its markdown punctuation is backslash-escaped.
    assert (
        "| high | <code>secrets\\.cat\\_env</code> | Environment dumped\\: the agent printed "
        "its environment \\(session 517e1928\\) |" in markdown
    )

    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    written = beacon(
        "ci",
        "report",
        "--log-path",
        str(artifact),
        "--format",
        "html",
        "--output",
        str(target),
        env=env,
        check=True,
    )
    assert written.stdout == ""
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_markdown_on_actions_goes_to_the_job_summary_and_outputs(
    artifact: Path, tmp_path: Path
) -> None:
    env = actions_env(tmp_path)
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    summary.write_text("earlier step output\n")
    done = beacon(
        "ci", "report", "--log-path", str(artifact), "--format", "markdown", env=env, check=True
    )
    assert done.stdout == ""
    text = summary.read_text()
    assert text.startswith("earlier step output\n### ❌ beacon run report: fail")
    outputs = parse_env_file(Path(env["GITHUB_OUTPUT"]).read_text())
    assert set(outputs) == set(OUTPUT_NAMES)
    assert outputs["cost-usd"] == "0.0054"
    assert outputs["status"] == "fail" and outputs["exit-code"] == "7"
    assert outputs["event-count"] == "48" and outputs["session-id"] == "run-1"
    assert outputs["result-path"] == str(artifact.parent / "result.json")


def test_a_nearly_full_job_summary_stays_under_the_limit(artifact: Path, tmp_path: Path) -> None:
    env = actions_env(tmp_path)
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    summary.write_text("x" * (STEP_SUMMARY_LIMIT - 40_000) + "\n")
    beacon("ci", "report", "--log-path", str(artifact), "--format", "markdown", env=env, check=True)
    assert STEP_SUMMARY_LIMIT - 40_000 < summary.stat().st_size <= STEP_SUMMARY_LIMIT

    summary.write_text("x" * (STEP_SUMMARY_LIMIT - 100) + "\n")
    full = beacon(
        "ci", "report", "--log-path", str(artifact), "--format", "markdown", env=env, check=True
    )
    assert "job summary is full" in full.stderr
    assert summary.stat().st_size == STEP_SUMMARY_LIMIT - 99


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    missing = beacon("ci", "report", "--log-path", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 2
    assert "no runtime log at" in missing.stderr and "Traceback" not in missing.stderr
    garbage = tmp_path / "runtime.jsonl"
    garbage.write_text("not json\n[1, 2]\n")
    empty = beacon("ci", "report", "--log-path", str(garbage))
    assert empty.returncode == 2
    assert "no lines of any beacon run" in empty.stderr and "Traceback" not in empty.stderr
    wrong = beacon("ci", "report", "--log-path", str(garbage), "--format", "pdf")
    assert wrong.returncode == 2 and "unknown format 'pdf'" in wrong.stderr


def _outputs(env: dict[str, Any]) -> dict[str, str]:
    return parse_env_file(Path(env["GITHUB_OUTPUT"]).read_text())


def test_ci_exec_writes_the_reports_and_prints_a_short_summary(tmp_path: Path) -> None:
    base = tmp_path / "beacon"
    env = actions_env(tmp_path)
    run = beacon(
        "ci",
        "exec",
        "--base-dir",
        str(base),
        "--require-telemetry=false",
        "--json",
        "--",
        "sh",
        "-c",
        "exit 3",
        env=env,
    )
    assert run.returncode == 3, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["report"] == {
        "json": str(base / "report.json"),
        "markdown": str(base / "report.md"),
        "html": str(base / "report.html"),
    }
    on_disk = json.loads((base / "result.json").read_text())
    assert on_disk["report"] == result["report"]
    for path in result["report"].values():
        assert Path(path).stat().st_mode & 0o777 == 0o600
    report = json.loads((base / "report.json").read_text())
    assert report["run"]["child_exit_code"] == 3
    assert report["run"]["command"] == "sh -c 'exit 3'"
    assert report["totals"]["cost_usd"] is None  # no agent ran: unknown, not $0
    lines = [line for line in run.stderr.splitlines() if not line.startswith("beacon:")]
    assert lines[0].startswith("beacon report: run ")
    assert 3 <= len(lines) <= 4, run.stderr
    assert "child exit 3" in lines[0]
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("### ❌ beacon run report: fail")
    assert summary == (base / "report.md").read_text()
    outputs = _outputs(env)
    assert outputs["exit-code"] == "3" and outputs["cost-usd"] == ""
    assert outputs["report-path"] == str(base / "report.html")
    assert outputs["log-path"] == str(base / "runtime.jsonl")


def test_quiet_exec_prints_no_report(tmp_path: Path) -> None:
    run = beacon(
        "ci",
        "exec",
        "--base-dir",
        str(tmp_path / "beacon"),
        "--require-telemetry=false",
        "--quiet",
        "--",
        "true",
    )
    assert run.returncode == 0, run.stderr
    assert "beacon report" not in run.stderr
    assert (tmp_path / "beacon" / "report.html").is_file()


def test_a_report_that_cannot_be_written_does_not_fail_the_run(tmp_path: Path) -> None:
    base = tmp_path / "beacon"
    (base / "report.html").mkdir(parents=True)  # the rename onto it fails
    run = beacon(
        "ci", "exec", "--base-dir", str(base), "--require-telemetry=false", "--json", "--", "true"
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["report"]["error"].startswith("the run report could not be written")
    assert "warning: the run report could not be written" in run.stderr
    assert json.loads((base / "result.json").read_text())["exit_code"] == 0


def test_a_cancelled_run_writes_result_json_first_and_leaves_the_report_for_later(
    tmp_path: Path,
) -> None:
    base = tmp_path / "beacon"
    process, _ = start_waiting_exec(
        base, tmp_path, ("--harness", "otel", "--no-require-telemetry"), "waitsig:{got}"
    )
    stderr, _ = signal_and_wait(process, signal.SIGTERM)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    result = json.loads((base / "result.json").read_text())
    assert result["report"] == {"skipped": CANCELLED_REPORT}
    assert not (base / "report.html").exists()
    assert "no run report: the run was cancelled" in stderr
    later = beacon("ci", "report", "--base-dir", str(base), "--format", "json", check=True)
    assert json.loads(later.stdout)["run"]["exit_code"] == 128 + signal.SIGTERM
