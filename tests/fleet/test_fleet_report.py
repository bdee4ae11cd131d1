"""`beacon fleet report|sql` over generated fleets on local disk: totals equal the drawn ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from beacon.pipeline.validate import validate_line

from .fleetgen import Expected, generate

RUNS = 60


def beacon(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beacon", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def report_json(source: str, *extra: str) -> dict[str, Any]:
    done = beacon("fleet", "report", "--source", source, "--format", "json", *extra)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.fixture(scope="module", params=["default", "hive"])
def fleet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Expected]:
    root = tmp_path_factory.mktemp(f"fleet-{request.param}")
    return root, generate(root, runs=RUNS, layout=request.param)


def test_generated_lines_follow_the_schema(tmp_path: Path) -> None:
    generate(tmp_path, runs=10)
    for log in tmp_path.rglob("runtime.jsonl"):
        for raw in log.read_bytes().splitlines():
            assert validate_line(json.loads(raw)) is None


def test_totals_equal_the_drawn_ones(fleet: tuple[Path, Expected]) -> None:
    root, expected = fleet
    totals = report_json(str(root))["totals"]
    assert totals["runs"] == expected.runs
    assert totals["failed_validation"] == expected.failed_validation
    assert totals["runs_without_result"] == expected.without_result
    assert totals["input_tokens"] == expected.input_tokens
    assert totals["output_tokens"] == expected.output_tokens
    assert totals["api_requests"] == expected.requests
    assert totals["api_errors"] == expected.errors
    assert totals["cost_usd"] == pytest.approx(expected.cost, abs=1e-4)
    # Codex runs send no cost: the total is known only in part, and says so.
    assert totals["cost_complete"] is False


def test_groups_equal_the_drawn_ones(fleet: tuple[Path, Expected]) -> None:
    root, expected = fleet
    report = report_json(str(root))
    by_repo = {row["repository"]: row for row in report["by_repository"]}
    assert {repo: row["runs"] for repo, row in by_repo.items()} == dict(expected.runs_by_repo)
    for repo, cost in expected.cost_by_repo.items():
        assert by_repo[repo]["cost_usd"] == pytest.approx(cost, abs=1e-4)
    by_model = {row["model"]: row for row in report["by_model"]}
    # "claude-opus-4-8[1m]" on metric points is the same model: no separate group.
    assert set(by_model) == set(expected.requests_by_model)
    for model, count in expected.requests_by_model.items():
        assert by_model[model]["api_requests"] == count
    assert by_model["gpt-5"]["cost_usd"] is None  # unknown, never 0
    for model, cost in expected.cost_by_model.items():
        assert by_model[model]["cost_usd"] == pytest.approx(cost, abs=1e-4)
    by_day = {row["day"]: row["cost_usd"] for row in report["by_day"]}
    for day, cost in expected.cost_by_day.items():
        assert by_day[day] == pytest.approx(cost, abs=1e-4)
    assert sum(row["runs"] for row in report["by_week"]) == expected.runs


def test_commands_files_and_findings_are_counted_once(fleet: tuple[Path, Expected]) -> None:
    root, expected = fleet
    report = report_json(str(root))
    assert {r["command"]: r["count"] for r in report["top_commands"]} == dict(expected.commands)
    assert {r["path"]: r["count"] for r in report["top_files"]} == dict(expected.files)
    assert {r["rule_id"]: r["count"] for r in report["findings_by_rule"]} == dict(
        expected.findings_by_rule
    )
    harnesses = {r["harness"]: r for r in report["by_harness"]}
    assert harnesses["codex"]["runs"] == expected.codex_runs
    assert harnesses["codex"]["cost_usd"] is None


def test_most_expensive_runs_link_to_their_run(fleet: tuple[Path, Expected]) -> None:
    root, _ = fleet
    runs = report_json(str(root))["most_expensive_runs"]
    costs = [run["cost_usd"] for run in runs]
    assert costs == sorted(costs, reverse=True)
    top = runs[0]
    assert top["link"] == (
        f"https://github.com/{top['repository']}/actions/runs/{top['run_id']}/attempts/1"
    )


def test_filters_select_runs(fleet: tuple[Path, Expected]) -> None:
    root, expected = fleet
    only = report_json(str(root), "--repo", "acme/web")["totals"]
    assert only["runs"] == expected.runs_by_repo["acme/web"]
    codex = report_json(str(root), "--harness", "codex")["totals"]
    assert codex["runs"] == expected.codex_runs
    assert codex["cost_usd"] is None
    first_day = min(expected.cost_by_day)
    one_day = report_json(str(root), "--since", first_day, "--until", first_day)
    assert [row["day"] for row in one_day["by_day"]] == [first_day]


def test_a_torn_line_and_a_missing_result_are_reported_not_fatal(tmp_path: Path) -> None:
    expected = generate(tmp_path, runs=12)
    log = sorted(tmp_path.rglob("runtime.jsonl"))[0]
    log.write_bytes(log.read_bytes() + b'{"timestamp": "2026-11-0')
    report = report_json(str(tmp_path))
    assert report["totals"]["torn_logs"] == 1
    assert report["totals"]["bad_lines"] == 1
    assert report["totals"]["runs"] == expected.runs
    assert report["totals"]["runs_without_result"] == expected.without_result >= 1
    text = beacon("fleet", "report", "--source", str(tmp_path))
    assert text.returncode == 0
    assert "1 logs end in a torn line" in text.stdout


def test_sql_answers_over_events_and_runs(fleet: tuple[Path, Expected]) -> None:
    root, expected = fleet
    done = beacon(
        "fleet",
        "sql",
        "--source",
        str(root),
        "--format",
        "json",
        "SELECT count(*) AS n, count(DISTINCT beacon.session_id) AS runs FROM events "
        "WHERE event.action = 'command.executed' AND beacon.source.signal = 'logs'",
    )
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["n"] == sum(expected.commands.values())
    runs = beacon(
        "fleet",
        "sql",
        "--source",
        str(root),
        "--format",
        "csv",
        "SELECT session_id, has_result FROM runs ORDER BY session_id",
    )
    lines = runs.stdout.splitlines()
    assert lines[0] == "session_id,has_result"
    assert len(lines) == 1 + expected.runs
    assert sum(1 for line in lines[1:] if line.endswith(",False")) == expected.without_result


def test_a_field_no_run_carries_still_has_its_type(tmp_path: Path) -> None:
    generate(tmp_path, runs=3)
    done = beacon(
        "fleet",
        "sql",
        "--source",
        str(tmp_path),
        "--format",
        "json",
        "SELECT count(mcp.server) AS n, any_value(typeof(gen_ai.usage.cost_usd)) AS t FROM events",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"n": 0, "t": "DOUBLE"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("report", "--source", "ftp://bucket/x"), 2, "unknown --source scheme"),
        (("report", "--source", "s3://"), 2, "names no bucket"),
        (("report", "--source", "{missing}"), 5, "is not a directory"),
        (("report", "--source", "{empty}", "--since", "yesterday"), 2, "invalid date"),
        (("report", "--source", "{empty}", "--format", "pdf"), 2, "unknown --format"),
        (("sql", "--source", "{empty}", "SELEC nonsense"), 2, "the query failed"),
        (("sql", "--source", "{empty}", "SELECT nope FROM events"), 2, "the query failed"),
    ],
)
def test_bad_input_gets_a_clear_error(
    tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    filled = [a.format(missing=tmp_path / "missing", empty=empty) for a in args]
    done = beacon("fleet", *filled)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_an_empty_prefix_reports_zero_runs(tmp_path: Path) -> None:
    totals = report_json(str(tmp_path))["totals"]
    assert totals["runs"] == 0
    assert totals["cost_usd"] is None


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "csv"])
def test_every_format_carries_the_totals(fleet: tuple[Path, Expected], fmt: str) -> None:
    root, expected = fleet
    out = root.parent / f"report.{fmt}"
    done = beacon("fleet", "report", "--source", str(root), "--format", fmt, "--output", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    if fmt == "csv":
        assert len(text.splitlines()) == 1 + expected.runs
    else:
        assert str(expected.runs) in text
        assert f"{expected.cost:,.4f}" in text
    if fmt == "html":
        # Self-contained: nothing is loaded (the SVG namespace URI is a name, not a fetch).
        assert "<script" not in text and "<link" not in text
        assert re.search(r"(src|href)\s*=", text) is None
