"""``--forward``: a second beacon collector, a flaky OTLP receiver and a HEC endpoint downstream."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.cli.helpers import BEACON, CHILD, beacon, clean_env, last_json_line, spool_lines

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def is_lifecycle(line: dict[str, Any]) -> bool:
    return any(
        scope.get("scope", {}).get("name") == "beacon"
        for resource in line.get("resourceLogs", [])
        for scope in resource.get("scopeLogs", [])
    )


def bodies(lines: list[dict[str, Any]]) -> list[str]:
    return [
        record["body"]["stringValue"]
        for line in lines
        for resource in line.get("resourceLogs", [])
        for scope in resource.get("scopeLogs", [])
        for record in scope.get("logRecords", [])
    ]


async def run_beacon(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        BEACON,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_downstream_beacon_receives_exactly_this_runs_records_redacted(
    tmp_path: Path, protocol: str
) -> None:
    down = tmp_path / "downstream"
    env = clean_env()
    beacon(
        "ci",
        "session",
        "start",
        "--base-dir",
        str(down),
        "--receivers",
        "all",
        "--harness",
        "otel",
        env=env,
        check=True,
    )
    try:
        state = json.loads((down / "session.json").read_text())
        endpoint = state["endpoints"]["grpc" if protocol == "grpc" else "http"]
        up = tmp_path / "up"
        result = beacon(
            "ci",
            "exec",
            "--base-dir",
            str(up),
            "--harness",
            "otel",
            "--keep-spool",
            "--json",
            "--forward",
            "otlp",
            "--forward-endpoint",
            endpoint,
            "--forward-protocol",
            protocol,
            "--forward-header",
            f"Authorization=Bearer {state['token']}",
            "--",
            *CHILD,
            "log:first",
            f"log:token {SECRET} here",
            "log:third",
            env=env,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        forwards = last_json_line(result.stdout)["forwards"]
        assert forwards[0]["status"] == "ok", forwards
        assert forwards[0]["requests"] == 3
        upstream = [
            line for line in spool_lines(up / "spool" / "otlp.jsonl") if not is_lifecycle(line)
        ]
        received = [
            line for line in spool_lines(Path(state["spool_path"])) if not is_lifecycle(line)
        ]
        assert len(received) == len(upstream) == 3
        assert bodies(received) == ["first", "token [REDACTED:github_token] here", "third"]
        assert SECRET not in Path(state["spool_path"]).read_text()
    finally:
        beacon(
            "ci", "session", "stop", "--base-dir", str(down), "--require-telemetry=false", env=env
        )


async def test_flaky_downstream_gets_everything_once(tmp_path: Path) -> None:
    received: list[bytes] = []
    answers = [503, 503]

    async def logs(request: web.Request) -> web.Response:
        body = await request.read()
        if answers:
            return web.Response(status=answers.pop(0), headers={"Retry-After": "0"})
        received.append(body)
        return web.Response(status=200, content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/logs", logs)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        code, out, err = await run_beacon(
            "ci",
            "exec",
            "--base-dir",
            str(tmp_path),
            "--harness",
            "otel",
            "--json",
            "--forward",
            "otlp",
            "--forward-endpoint",
            f"http://127.0.0.1:{port}",
            "--",
            *CHILD,
            "log:one",
            "log:two",
            env=clean_env(),
        )
    finally:
        await runner.cleanup()
    assert code == 0, err
    assert answers == []
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    got = []
    for body in received:
        request = ExportLogsServiceRequest.FromString(body)
        got.extend(
            r.body.string_value
            for rl in request.resource_logs
            for sl in rl.scope_logs
            for r in sl.log_records
        )
    assert got == ["one", "two"]
    assert json.loads(out.strip().splitlines()[-1])["forwards"][0]["status"] == "ok"


async def test_failed_forward_exits_4_with_the_cause(tmp_path: Path) -> None:
    async def logs(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=401, text="bad token")

    app = web.Application()
    app.router.add_post("/v1/logs", logs)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        code, _, err = await run_beacon(
            "ci",
            "exec",
            "--base-dir",
            str(tmp_path),
            "--harness",
            "otel",
            "--forward",
            "otlp",
            "--forward-endpoint",
            f"http://127.0.0.1:{port}",
            "--",
            *CHILD,
            "log:one",
            env=clean_env(),
        )
    finally:
        await runner.cleanup()
    assert code == 4
    assert "HTTP 401" in err and "--forward-header" in err


@pytest.mark.parametrize(("kind", "scheme"), [("splunk", "Splunk"), ("falcon", "Bearer")])
async def test_hec_endpoint_receives_runtime_lines_with_the_token(
    tmp_path: Path, kind: str, scheme: str
) -> None:
    token_env = f"BEACON_CI_{kind.upper()}_HEC_TOKEN"
    requests: list[tuple[str, bytes]] = []

    async def collector(request: web.Request) -> web.Response:
        requests.append((request.headers.get("Authorization", ""), await request.read()))
        return web.json_response({"text": "Success", "code": 0})

    app = web.Application()
    app.router.add_post("/services/collector/event", collector)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    child_env = tmp_path / "child-env.json"
    try:
        code, out, err = await run_beacon(
            "ci",
            "exec",
            "--base-dir",
            str(tmp_path / "b"),
            "--harness",
            "otel",
            "--json",
            "--forward",
            kind,
            "--forward-endpoint",
            f"http://127.0.0.1:{port}/services/collector/event",
            "--",
            *CHILD,
            "log:one",
            f"env:{child_env}",
            env=clean_env(**{token_env: "hec-token-123"}),
        )
    finally:
        await runner.cleanup()
    assert code == 0, err
    session = json.loads(out.strip().splitlines()[-1])["session_id"]
    assert requests and all(auth == f"{scheme} hec-token-123" for auth, _ in requests)
    events = [json.loads(e) for _, body in requests for e in body.splitlines()]
    runtime = [
        json.loads(line) for line in (tmp_path / "b" / "runtime.jsonl").read_text().splitlines()
    ]
    assert [e["event"] for e in events] == [
        r for r in runtime if r["beacon"]["session_id"] == session
    ]
    assert all(e["sourcetype"] == "beacon:runtime" for e in events)
    assert token_env not in json.loads(child_env.read_text())


def test_forward_splunk_without_token_is_a_usage_error(tmp_path: Path) -> None:
    result = beacon(
        "ci",
        "exec",
        "--base-dir",
        str(tmp_path),
        "--forward",
        "splunk",
        "--forward-endpoint",
        "http://127.0.0.1:9/x",
        "--",
        sys.executable,
        "-c",
        "",
    )
    assert result.returncode == 2
    assert "BEACON_CI_SPLUNK_HEC_TOKEN" in result.stderr


def test_forward_original_sends_to_the_jobs_own_destination(tmp_path: Path) -> None:
    down = tmp_path / "downstream"
    env = clean_env()
    beacon("ci", "session", "start", "--base-dir", str(down), "--harness", "otel",
           env=env, check=True)  # fmt: skip
    try:
        state = json.loads((down / "session.json").read_text())
        job_env = {
            **env,
            "OTEL_EXPORTER_OTLP_ENDPOINT": state["endpoints"]["http"],
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{state['token']}",
        }
        result = beacon(
            "ci", "exec", "--base-dir", str(tmp_path / "up"), "--harness", "otel", "--json",
            "--forward", "original", "--", *CHILD, "log:kept",
            env=job_env, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert last_json_line(result.stdout)["forwards"][0]["status"] == "ok"
        received = [
            line for line in spool_lines(Path(state["spool_path"])) if not is_lifecycle(line)
        ]
        assert bodies(received) == ["kept"]
    finally:
        beacon("ci", "session", "stop", "--base-dir", str(down), "--require-telemetry=false",
               env=env)  # fmt: skip


def test_forward_original_without_a_destination_is_skipped(tmp_path: Path) -> None:
    result = beacon(
        "ci", "exec", "--base-dir", str(tmp_path), "--harness", "otel", "--json",
        "--forward", "original", "--", *CHILD, "log:x",
        env=clean_env(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    forward = last_json_line(result.stdout)["forwards"][0]
    assert forward["status"] == "skipped"
    assert "no OTLP destination" in forward["error"]


async def test_partial_success_is_reported_and_fails_the_step(tmp_path: Path) -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsPartialSuccess,
        ExportLogsServiceResponse,
    )

    answer = ExportLogsServiceResponse(
        partial_success=ExportLogsPartialSuccess(rejected_log_records=1, error_message="too old")
    ).SerializeToString()

    async def logs(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/logs", logs)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        code, out, err = await run_beacon(
            "ci", "exec", "--base-dir", str(tmp_path), "--harness", "otel", "--json",
            "--forward", "otlp", "--forward-endpoint", f"http://127.0.0.1:{port}",
            "--", *CHILD, "log:one", env=clean_env(),
        )  # fmt: skip
    finally:
        await runner.cleanup()
    assert code == 4, err
    forward = json.loads(out.strip().splitlines()[-1])["forwards"][0]
    assert forward["status"] == "partial"
    assert forward["rejected"] == 1
    assert forward["error"] == "too old"
