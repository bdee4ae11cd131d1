"""``beacon ci validate`` through the installed console script (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from beacon.pipeline import PipelineOptions, run_pipeline

from .helpers import fixture_requests, write_spool
from .test_validate import full_run

BEACON = Path(sys.executable).with_name("beacon")


def beacon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BEACON_")}
    environ.update(env or {})
    return subprocess.run(
        [str(BEACON), "ci", "validate", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    options = PipelineOptions(session_id="run-a", log_path=tmp / "runtime.jsonl")
    run_pipeline(write_spool(tmp / "a.jsonl", full_run("run-a")), options)
    options = PipelineOptions(session_id="run-b", log_path=tmp / "runtime.jsonl")
    run_pipeline(write_spool(tmp / "b.jsonl", fixture_requests("http-json")), options)
    return tmp / "runtime.jsonl"


def test_ok_exits_zero_and_prints_stages(log: Path) -> None:
    done = beacon("--log-path", str(log))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("beacon validation: OK")
    assert "run run-b" in done.stdout


def test_json_output_is_the_result_object(log: Path) -> None:
    done = beacon("--log-path", str(log), "--session-id", "run-a", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "ok"
    assert result["event_count"] == 20
    assert result["log_path"] == str(log)
    assert [s["name"] for s in result["stages"]][:3] == ["log_exists", "lines_parse", "schema"]
    assert result["actions"]["session.started"] == 1


def test_failure_exits_three(log: Path) -> None:
    done = beacon("--log-path", str(log), "--require-action", "file.modified", "--json")
    assert done.returncode == 3
    result = json.loads(done.stdout)
    assert result["status"] == "fail"
    failed = [s["name"] for s in result["stages"] if s["status"] == "fail"]
    assert failed == ["require_actions"]


def test_min_events_and_harness(log: Path) -> None:
    assert beacon("--log-path", str(log), "--min-events", "1000").returncode == 3
    assert beacon("--log-path", str(log), "--harness", "otel").returncode == 3
    assert beacon("--log-path", str(log), "--harness", "claude").returncode == 0


def test_warn_exits_zero(tmp_path: Path) -> None:
    options = PipelineOptions(session_id="run-w", log_path=tmp_path / "runtime.jsonl")
    run_pipeline(write_spool(tmp_path / "w.jsonl", full_run("run-w", rejected=2)), options)
    done = beacon("--log-path", str(tmp_path / "runtime.jsonl"))
    assert done.returncode == 0
    assert "WARN" in done.stdout


def test_default_log_path_comes_from_the_environment(log: Path, tmp_path: Path) -> None:
    done = beacon("--json", env={"BEACON_CI_LOG_PATH": str(log)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["log_path"] == str(log)
    done = beacon("--json", env={"RUNNER_TEMP": str(tmp_path)})
    assert done.returncode == 3
    result = json.loads(done.stdout)
    assert result["log_path"] == str(tmp_path / "beacon" / "runtime.jsonl")
    assert result["stages"][0] == {
        "name": "log_exists",
        "status": "fail",
        "message": f"{tmp_path / 'beacon' / 'runtime.jsonl'} does not exist",
    }


def test_bad_usage_exits_two(log: Path) -> None:
    done = beacon("--log-path", str(log), "--harness", "nonsense")
    assert done.returncode == 2
    assert "unknown harness" in done.stderr
