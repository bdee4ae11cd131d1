"""``ci exec --upload``, ``session stop --upload`` and ``ci upload`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from beacon.exports.stage import REPORT_FILES
from tests.cli.helpers import CHILD, beacon, clean_env, last_json_line, runtime_lines

from .conftest import gcs_object, s3_client, unique_bucket
from .servers import FakeGcs, MotoS3

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "octo/widgets",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_JOB": "agent job",
}


def env_for(moto: MotoS3, fake_gcs: FakeGcs | None = None, **extra: str) -> dict[str, str]:
    env = clean_env(**moto.env(), **GITHUB, **extra)
    if fake_gcs is not None:
        env.update(fake_gcs.env())
    return env


def exec_upload(
    tmp_path: Path, env: dict[str, str], *options: str, child: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return beacon(
        "ci",
        "exec",
        "--base-dir",
        str(tmp_path / "b"),
        "--harness",
        "otel",
        "--json",
        *options,
        "--",
        *CHILD,
        "log:hello",
        *child,
        env=env,
        timeout=120,
    )


def test_exec_uploads_log_and_result_to_both_stores(
    tmp_path: Path, moto: MotoS3, fake_gcs: FakeGcs, s3_bucket: str, gcs_bucket: str
) -> None:
    env = env_for(
        moto,
        fake_gcs,
        BEACON_CI_S3_BUCKET=s3_bucket,
        BEACON_CI_S3_PREFIX="fleet",
        BEACON_CI_GCS_BUCKET=gcs_bucket,
        AWS_SESSION_TOKEN="tok-for-beacon-only",
        ACTIONS_ID_TOKEN_REQUEST_TOKEN="oidc-request",
        CLOUDSDK_AUTH_ACCESS_TOKEN="g",
    )
    child_env = tmp_path / "child-env.json"
    result = exec_upload(
        tmp_path, env, "--upload", "s3", "--upload", "gcs", child=(f"env:{child_env}",)
    )
    assert result.returncode == 0, result.stderr
    out = last_json_line(result.stdout)
    session = out["session_id"]
    prefix = f"octo/widgets/4242/2/agent_job/{session}"
    keys = {(u["destination"], u["key"]) for u in out["uploads"]}
    # The log, the run report beside result.json, and result.json itself, in every store.
    files = ("runtime.jsonl", *REPORT_FILES, "result.json")
    assert keys == {
        *((f"s3://{s3_bucket}/fleet", f"fleet/{prefix}/{name}") for name in files),
        *((f"gs://{gcs_bucket}", f"{prefix}/{name}") for name in files),
    }
    assert all(u["status"] == "ok" for u in out["uploads"])
    assert f"fleet/{prefix}/runtime.jsonl" in result.stderr  # keys are printed
    log = (tmp_path / "b" / "runtime.jsonl").read_bytes()
    s3 = s3_client(moto)
    assert (
        s3.get_object(Bucket=s3_bucket, Key=f"fleet/{prefix}/runtime.jsonl")["Body"].read() == log
    )
    assert gcs_object(fake_gcs, gcs_bucket, f"{prefix}/runtime.jsonl")[1] == log
    stored = json.loads(
        s3.get_object(Bucket=s3_bucket, Key=f"fleet/{prefix}/result.json")["Body"].read()
    )
    # The stored result lists every other object, not itself; the verdict is in it.
    assert {u["key"] for u in stored["uploads"]} == {
        *(f"fleet/{prefix}/{name}" for name in ("runtime.jsonl", *REPORT_FILES)),
        *(f"{prefix}/{name}" for name in ("runtime.jsonl", *REPORT_FILES)),
    }
    assert stored["validation"]["status"] == "ok"
    seen = json.loads(child_env.read_text())
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CLOUDSDK_AUTH_ACCESS_TOKEN",
    ):
        assert name not in seen, name
    assert seen["BEACON_CI_S3_BUCKET"] == s3_bucket


def test_without_upload_the_child_keeps_its_credentials(tmp_path: Path, moto: MotoS3) -> None:
    child_env = tmp_path / "child-env.json"
    result = exec_upload(tmp_path, env_for(moto), child=(f"env:{child_env}",))
    assert result.returncode == 0, result.stderr
    assert json.loads(child_env.read_text())["AWS_ACCESS_KEY_ID"] == "testing-access-key"


def test_only_this_runs_lines_are_uploaded_from_a_shared_log(
    tmp_path: Path, moto: MotoS3, s3_bucket: str
) -> None:
    env = env_for(moto)
    first = exec_upload(tmp_path, env)
    assert first.returncode == 0, first.stderr
    second = exec_upload(
        tmp_path, env, "--upload", f"s3://{s3_bucket}/p", "--upload-layout", "hive", "--upload-gzip"
    )
    assert second.returncode == 0, second.stderr
    out = last_json_line(second.stdout)
    session = out["session_id"]
    log_key = next(u["key"] for u in out["uploads"] if u["key"].endswith("runtime.jsonl.gz"))
    assert log_key.startswith("p/dt=")
    assert f"/provider=github_actions/repo=octo__widgets/run=4242.2/agent_job/{session}/" in log_key
    import gzip

    body = s3_client(moto).get_object(Bucket=s3_bucket, Key=log_key)["Body"].read()
    lines = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert lines and {line["beacon"]["session_id"] for line in lines} == {session}
    everything = runtime_lines(tmp_path / "b" / "runtime.jsonl")
    assert len(everything) > len(lines)


def test_no_bucket_is_a_usage_error_before_the_child_runs(tmp_path: Path, moto: MotoS3) -> None:
    marker = tmp_path / "child-ran"
    result = exec_upload(tmp_path, env_for(moto), "--upload", "s3", child=(f"ready:{marker}",))
    assert result.returncode == 2
    assert "BEACON_CI_S3_BUCKET" in result.stderr
    assert not marker.exists()


def test_missing_bucket_fails_the_step_with_4(tmp_path: Path, moto: MotoS3) -> None:
    bucket = unique_bucket("absent")
    result = exec_upload(tmp_path, env_for(moto), "--upload", f"s3://{bucket}")
    assert result.returncode == 4, result.stderr
    assert f"bucket {bucket!r} does not exist" in result.stderr
    out = last_json_line(result.stdout)
    assert out["exit_code"] == 4
    assert {u["status"] for u in out["uploads"]} == {"failed"}
    local = json.loads((tmp_path / "b" / "result.json").read_text())
    assert local["exit_code"] == 4


def test_upload_required_false_keeps_exit_0(tmp_path: Path, moto: MotoS3) -> None:
    bucket = unique_bucket("absent")
    result = exec_upload(
        tmp_path, env_for(moto), "--upload", f"s3://{bucket}", "--upload-required=false"
    )
    assert result.returncode == 0, result.stderr
    assert "does not exist" in result.stderr


def test_child_exit_code_wins_and_the_log_is_still_uploaded(
    tmp_path: Path, moto: MotoS3, s3_bucket: str
) -> None:
    result = exec_upload(
        tmp_path, env_for(moto, BEACON_CI_S3_BUCKET=s3_bucket), "--upload", "s3", child=("exit:9",)
    )
    assert result.returncode == 9
    out = last_json_line(result.stdout)
    # The log, three report files, result.json: all uploaded although the child failed.
    assert [u["status"] for u in out["uploads"]] == ["ok"] * (2 + len(REPORT_FILES))


def test_exec_without_upload_never_imports_the_sdks(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "beacon",
            "ci",
            "exec",
            "--base-dir",
            str(tmp_path),
            "--harness",
            "otel",
            "--",
            *CHILD,
            "log:x",
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "beacon.pipeline" in result.stderr  # importtime did report
    for module in ("aiobotocore", "botocore", "gcloud", "beacon.exports.s3"):
        assert f" {module}" not in result.stderr, module


def test_ci_upload_uploads_a_finished_run(tmp_path: Path, moto: MotoS3, s3_bucket: str) -> None:
    env = env_for(moto)
    run = exec_upload(tmp_path, env)
    assert run.returncode == 0, run.stderr
    session = last_json_line(run.stdout)["session_id"]
    # The report files beside result.json (the report stage wrote them) go up too.
    (tmp_path / "b" / "report.md").write_text("# report\n")
    result = beacon(
        "ci",
        "upload",
        "--base-dir",
        str(tmp_path / "b"),
        "--upload",
        f"s3://{s3_bucket}",
        "--json",
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = last_json_line(result.stdout)
    keys = [u["key"] for u in out["uploads"]]
    prefix = f"octo/widgets/4242/2/agent_job/{session}"
    assert keys == [f"{prefix}/{name}" for name in ("runtime.jsonl", *REPORT_FILES, "result.json")]
    report = s3_client(moto).get_object(Bucket=s3_bucket, Key=f"{prefix}/report.md")
    assert report["ContentType"] == "text/markdown; charset=utf-8"
    assert report["Body"].read() == b"# report\n"
    stored = json.loads(
        s3_client(moto).get_object(Bucket=s3_bucket, Key=f"{prefix}/result.json")["Body"].read()
    )
    assert [u["key"] for u in stored["uploads"]] == keys[:-1]  # all but result.json itself


def test_session_stop_uploads(tmp_path: Path, moto: MotoS3, s3_bucket: str) -> None:
    base = str(tmp_path / "s")
    env = env_for(moto, BEACON_CI_S3_BUCKET=s3_bucket)
    started = beacon(
        "ci",
        "session",
        "start",
        "--base-dir",
        base,
        "--harness",
        "otel",
        "--json",
        env=env,
        check=True,
    )
    exports = json.loads((Path(base) / "session.json").read_text())["exports"]
    child_env = tmp_path / "child-env.json"
    step = beacon(
        "ci",
        "exec",
        "--base-dir",
        base,
        "--upload",
        "s3",
        "--",
        *CHILD,
        "log:one",
        f"env:{child_env}",
        env={**env, **exports},
        timeout=60,
    )
    assert step.returncode == 0, step.stderr
    # A step joining the session uploads nothing itself, says so, and still hides credentials.
    assert "session stop --upload" in step.stderr
    assert "AWS_SECRET_ACCESS_KEY" not in json.loads(child_env.read_text())
    stopped = beacon(
        "ci",
        "session",
        "stop",
        "--base-dir",
        base,
        "--upload",
        "s3",
        "--json",
        env=env,
        timeout=120,
    )
    assert stopped.returncode == 0, stopped.stderr
    out = last_json_line(stopped.stdout)
    session = last_json_line(started.stdout)["session_id"]
    assert out["session_id"] == session
    key = f"octo/widgets/4242/2/agent_job/{session}/runtime.jsonl"
    assert next(u["key"] for u in out["uploads"]) == key
    body = s3_client(moto).get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert b"one" in body


@pytest.mark.parametrize(
    ("store", "module"), [("s3", "aiobotocore"), ("gcs", "gcloud.aio.storage")]
)
def test_missing_extra_is_one_line_naming_it(tmp_path: Path, store: str, module: str) -> None:
    marker = tmp_path / "child-ran"
    code = f"import sys\nsys.modules[{module!r}] = None\nfrom beacon.cli import main\nmain()\n"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "ci",
            "exec",
            "--base-dir",
            str(tmp_path),
            "--upload",
            f"{store}://bucket",
            "--",
            *CHILD,
            f"ready:{marker}",
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"beacon: error: uploading to {store} needs "
        f"{'aiobotocore' if store == 's3' else 'gcloud-aio-storage'}, which is not installed "
        f"(pip install 'beacon-ci[{store}]')"
    ]
    assert not marker.exists()
