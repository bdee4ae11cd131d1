"""The DuckDB queries in docs/fleet.md give the same figures as `beacon fleet report`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .fleetgen import Expected, generate

DOC = Path(__file__).resolve().parents[2] / "docs" / "fleet.md"
BLOCK = re.compile(r"<!-- fleet-sql: (\w+) -->\n```sql\n(.*?)```", re.S)


def doc_queries() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text()))


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "beacon", "fleet", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def sql(root: Path, query: str) -> list[dict[str, Any]]:
    out = run("sql", "--source", str(root), "--format", "json", query)
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected, dict[str, Any]]:
    root = tmp_path_factory.mktemp("fleet-docs")
    expected = generate(root, runs=40, seed=11)
    report = json.loads(run("report", "--source", str(root), "--format", "json"))
    return root, expected, report


def test_the_doc_has_the_tested_queries() -> None:
    assert set(doc_queries()) == {"totals", "by_repository_week", "by_model", "top_commands"}


def test_totals_query(fleet: tuple[Path, Expected, dict[str, Any]]) -> None:
    root, _, report = fleet
    (row,) = sql(root, doc_queries()["totals"])
    totals = report["totals"]
    for key in ("runs", "failed_validation", "input_tokens", "output_tokens"):
        assert row[key] == totals[key]
    assert row["cost_usd"] == pytest.approx(totals["cost_usd"], abs=1e-6)


def test_repository_week_query(fleet: tuple[Path, Expected, dict[str, Any]]) -> None:
    root, _, report = fleet
    rows = sql(root, doc_queries()["by_repository_week"])
    by_repo: dict[str, int] = {}
    for row in rows:
        by_repo[row["repository"]] = by_repo.get(row["repository"], 0) + row["runs"]
    assert by_repo == {r["repository"]: r["runs"] for r in report["by_repository"]}
    weeks: dict[str, int] = {}
    for row in rows:
        weeks[row["week"]] = weeks.get(row["week"], 0) + row["runs"]
    assert weeks == {r["week"]: r["runs"] for r in report["by_week"]}


def test_model_query(fleet: tuple[Path, Expected, dict[str, Any]]) -> None:
    root, _, report = fleet
    rows = {row["model"]: row for row in sql(root, doc_queries()["by_model"])}
    for model in report["by_model"]:
        assert rows[model["model"]]["api_requests"] == model["api_requests"]
        if model["cost_usd"] is None:
            assert rows[model["model"]]["cost_usd"] is None
        else:
            assert rows[model["model"]]["cost_usd"] == pytest.approx(model["cost_usd"], abs=1e-6)


def test_commands_query(fleet: tuple[Path, Expected, dict[str, Any]]) -> None:
    root, expected, report = fleet
    rows = {row["command"]: row["count"] for row in sql(root, doc_queries()["top_commands"])}
    assert rows == {r["command"]: r["count"] for r in report["top_commands"]}
    assert rows == dict(expected.commands)
