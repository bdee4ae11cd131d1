"""`beacon fleet report --source s3://…|gs://…` over runs uploaded by beacon's own uploader.

The stores are local (moto, fake-gcs-server on 127.0.0.1); the totals are the ones the
generator drew, on both stores and both upload layouts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.exports.servers import FakeGcs, MotoS3

from .fleetgen import generate
from .upload import upload_fleet

RUNS = 24


def fleet(args: list[str], env: dict[str, str], cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beacon", "fleet", *args, "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def report(source: str, env: dict[str, str], cache: Path) -> dict[str, Any]:
    done = fleet(["report", "--source", source, "--format", "json"], env, cache)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.mark.parametrize("layout", ["default", "hive"])
@pytest.mark.parametrize("store", ["s3", "gs"])
def test_uploaded_runs_report_the_drawn_totals(
    store: str,
    layout: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    server: MotoS3 | FakeGcs = request.getfixturevalue("moto" if store == "s3" else "fake_gcs")
    bucket: str = request.getfixturevalue("s3_bucket" if store == "s3" else "gcs_bucket")
    env = server.env()
    expected = generate(tmp_path / "runs", runs=RUNS, layout=layout)
    upload_fleet(tmp_path / "runs", f"{store}://{bucket}/fleet", layout, env)
    cache = tmp_path / "cache"
    first = report(f"{store}://{bucket}/fleet", env, cache)
    totals = first["totals"]
    assert totals["runs"] == expected.runs
    assert totals["runs_without_result"] == expected.without_result
    assert totals["failed_validation"] == expected.failed_validation
    assert totals["api_requests"] == expected.requests
    assert totals["cost_usd"] == pytest.approx(expected.cost, abs=1e-4)
    assert {r["command"]: r["count"] for r in first["top_commands"]} == dict(expected.commands)
    # A second report reads the cache: the same figures, no object fetched again.
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.jsonl")}
    assert len(before) == expected.runs
    again = report(f"{store}://{bucket}/fleet", env, cache)
    assert again["totals"] == totals
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.jsonl")} == before


def test_a_missing_bucket_exits_5(moto: MotoS3, tmp_path: Path) -> None:
    done = fleet(["report", "--source", "s3://no-such-bucket/x"], moto.env(), tmp_path)
    assert done.returncode == 5
    assert "does not exist" in done.stderr


def test_a_missing_gcs_bucket_exits_5(fake_gcs: FakeGcs, tmp_path: Path) -> None:
    done = fleet(["report", "--source", "gs://no-such-bucket/x"], fake_gcs.env(), tmp_path)
    assert done.returncode == 5
    assert "does not exist" in done.stderr


def test_no_credentials_exits_5(moto: MotoS3, tmp_path: Path, s3_bucket: str) -> None:
    env = {"BEACON_CI_S3_ENDPOINT_URL": moto.url, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_CONFIG_FILE": str(tmp_path / "none")}  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "beacon", "fleet", "report", "--source", f"s3://{s3_bucket}/x",
         "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=120, env={**clean, **env},
    )  # fmt: skip
    assert done.returncode == 5, done.stderr
    assert "no AWS credentials" in done.stderr


def test_an_unreachable_store_exits_5(tmp_path: Path) -> None:
    from tests.exports.servers import S3_ENV, free_port

    env = {**S3_ENV, "BEACON_CI_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    done = fleet(["report", "--source", "s3://bucket/x"], env, tmp_path)
    assert done.returncode == 5, done.stderr
    assert "cannot reach the store" in done.stderr


def test_an_empty_prefix_reports_zero_runs(moto: MotoS3, s3_bucket: str, tmp_path: Path) -> None:
    totals = report(f"s3://{s3_bucket}/nothing-here", moto.env(), tmp_path)["totals"]
    assert totals["runs"] == 0


def test_runs_uploaded_by_ci_exec_are_reported(
    tmp_path: Path, moto: MotoS3, fake_gcs: FakeGcs, s3_bucket: str, gcs_bucket: str
) -> None:
    """The whole path: two `ci exec --upload s3 --upload gcs` runs, then a report per store."""
    from tests.exports.test_cli_upload import env_for, exec_upload

    env = env_for(
        moto,
        fake_gcs,
        BEACON_CI_S3_BUCKET=s3_bucket,
        BEACON_CI_S3_PREFIX="fleet",
        BEACON_CI_GCS_BUCKET=gcs_bucket,
        BEACON_CI_GCS_PREFIX="fleet",
    )
    sessions = set()
    for attempt in ("1", "2"):
        run_env = {**env, "GITHUB_RUN_ATTEMPT": attempt}
        done = exec_upload(tmp_path / attempt, run_env, "--upload", "s3,gcs")
        assert done.returncode == 0, done.stderr
        sessions.add(json.loads(done.stdout.splitlines()[-1])["session_id"])
    for source in (f"s3://{s3_bucket}/fleet", f"gs://{gcs_bucket}/fleet"):
        figures = report(source, env, tmp_path / "cache")
        assert figures["totals"]["runs"] == 2
        assert figures["totals"]["runs_without_result"] == 0
        assert {run["session_id"] for run in figures["runs"]} == sessions
        assert {run["validation_status"] for run in figures["runs"]} == {"ok"}
        assert {run["repository"] for run in figures["runs"]} == {"octo/widgets"}
