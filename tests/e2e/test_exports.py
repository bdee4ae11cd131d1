"""The real Claude Code under ``beacon ci exec --upload s3 --upload gcs`` and a session stop upload.

The stores are moto and fake-gcs-server on 127.0.0.1 (tests/exports/servers.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from exports.conftest import gcs_call, gcs_object, s3_client, unique_bucket
from exports.servers import FakeGcs, MotoS3, fake_gcs_server, moto_server

from beacon.exports.stage import REPORT_FILES
from e2e.beacon_cli import beacon, beacon_exec, job_dirs, read_github_env
from e2e.claude_runner import hermetic_env, run_process
from e2e.messages_stub import MessagesStub
from e2e.runtime_checks import claude_events, get, load_runtime, of_run
from e2e.scenarios import build
from e2e.test_ci_session import github_job_env


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoS3, FakeGcs]]:
    root = tmp_path_factory.mktemp("stores")
    with moto_server(root) as moto, fake_gcs_server(root) as gcs:
        yield moto, gcs


def buckets(moto: MotoS3, gcs: FakeGcs) -> dict[str, str]:
    s3_bucket, gcs_bucket = unique_bucket("e2e"), unique_bucket("e2e")
    s3_client(moto).create_bucket(Bucket=s3_bucket)
    gcs_call(gcs, "POST", "/storage/v1/b", json.dumps({"name": gcs_bucket}).encode())
    return {
        **moto.env(),
        **gcs.env(),
        "BEACON_CI_S3_BUCKET": s3_bucket,
        "BEACON_CI_S3_PREFIX": "fleet",
        "BEACON_CI_GCS_BUCKET": gcs_bucket,
    }


async def test_exec_uploads_claudes_log_and_result_to_both_stores(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path, stores: tuple[MotoS3, FakeGcs]
) -> None:
    moto, gcs = stores
    home, work, base = job_dirs(tmp_path)
    env = {**hermetic_env(home, stub.base_url), **github_job_env(tmp_path), **buckets(moto, gcs)}
    scenario = build("bash", work)
    stub.use(scenario.script)
    run = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol="http/protobuf",
        base_dir=base,
        env=env,
        cwd=work,
        options=["--upload", "s3", "--upload", "gcs"],
    )
    assert run.process.returncode == 0, run.process.describe()
    result = run.result()
    session = result["session_id"]
    prefix = f"acme/widgets/4242/2/agent/{session}"
    files = ("runtime.jsonl", *REPORT_FILES, "result.json")
    assert {u["key"] for u in result["uploads"]} == {
        *(f"fleet/{prefix}/{name}" for name in files),
        *(f"{prefix}/{name}" for name in files),
    }
    assert all(u["status"] == "ok" for u in result["uploads"]), result["uploads"]
    log = run.runtime_path.read_bytes()
    assert claude_events(of_run(run.runtime(), session))
    s3 = s3_client(moto)
    assert (
        s3.get_object(Bucket=env["BEACON_CI_S3_BUCKET"], Key=f"fleet/{prefix}/runtime.jsonl")[
            "Body"
        ].read()
        == log
    )
    assert gcs_object(gcs, env["BEACON_CI_GCS_BUCKET"], f"{prefix}/runtime.jsonl")[1] == log
    stored = json.loads(gcs_object(gcs, env["BEACON_CI_GCS_BUCKET"], f"{prefix}/result.json")[1])
    assert stored["session_id"] == session
    assert stored["validation"]["status"] == "ok"


async def test_session_stop_uploads_a_two_step_job(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path, stores: tuple[MotoS3, FakeGcs]
) -> None:
    moto, gcs = stores
    home, work, _ = job_dirs(tmp_path)
    github = github_job_env(tmp_path)
    job_env = {**hermetic_env(home, stub.base_url), **github, **buckets(moto, gcs)}
    started = await beacon(["ci", "session", "start"], job_env, work)
    assert started.returncode == 0, started.describe()
    exported = read_github_env(Path(github["GITHUB_ENV"]))
    for name in ("bash", "files"):
        scenario = build(name, work)
        stub.use(scenario.script)
        step = await run_process(
            [str(claude_bin), *scenario.claude_args()], {**job_env, **exported}, work
        )
        assert step.returncode == 0, step.describe()
    stopped = await beacon(
        ["ci", "session", "stop", "--upload", "s3", "--json"], {**job_env, **exported}, work
    )
    assert stopped.returncode == 0, stopped.describe()
    session = exported["BEACON_CI_SESSION_ID"]
    key = f"fleet/acme/widgets/4242/2/agent/{session}/runtime.jsonl"
    body = s3_client(moto).get_object(Bucket=job_env["BEACON_CI_S3_BUCKET"], Key=key)["Body"]
    stored = [json.loads(line) for line in body.read().splitlines()]
    local = of_run(load_runtime(Path(exported["BEACON_CI_LOG_PATH"])), session)
    assert stored == local
    assert len({get(line, "session.id") for line in claude_events(stored)}) == 2
