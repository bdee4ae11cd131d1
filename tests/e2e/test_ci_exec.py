"""The product, end to end: ``beacon ci exec`` around the real Claude Code, per protocol.

Each run drives Claude through ``scenarios.full`` (Bash, Write, Read, Edit, a GitHub token
planted in the prompt) against the Messages stub; runtime.jsonl must then hold every
event the script implies, correctly mapped, redacted and schema-valid.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.beacon_cli import BEACON, BeaconRun, beacon_exec, job_dirs
from e2e.claude_runner import PROTOCOLS, hermetic_env
from e2e.conftest import RunFigure
from e2e.messages_stub import MessagesStub
from e2e.runtime_checks import (
    TRACES_SCOPE,
    Line,
    check_claude_run,
    claude_events,
    from_scope,
    get,
    lifecycle,
    load_runtime,
    normalized,
    of_run,
    schema_errors,
    source,
)
from e2e.scenarios import HOUSEKEEPING_EVENTS, MCP_SERVER, build, expect, fake_github_token, full

RUNS_PER_PROTOCOL = 5
STRESS_RUNS = int(os.environ.get("BEACON_STRESS_RUNS", "25"))


async def exec_full_run(
    claude_bin: Path,
    stub: MessagesStub,
    protocol: str,
    root: Path,
    record_figure: Callable[[RunFigure], None],
    secret: str | None = None,
) -> tuple[BeaconRun, list[Path]]:
    home, work, base = job_dirs(root)
    scenario = full(work, secret)
    stub.use(scenario.script)
    run = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol=protocol,
        base_dir=base,
        env=hermetic_env(home, stub.base_url),
        cwd=work,
    )
    assert run.process.returncode == 0, run.process.describe()
    result = run.result()
    assert result["exit_code"] == 0 and result["child_exit_code"] == 0
    assert result["validation"]["status"] == "ok", result["validation"]
    lines = of_run(run.runtime(), result["session_id"])
    expected = expect(scenario)
    record_figure(
        RunFigure(
            protocol=protocol,
            seconds=run.process.seconds,
            expected_records=sum(expected.events.values()) + sum(expected.spans.values()),
            captured_records=len(claude_events(lines)) + len(from_scope(lines, TRACES_SCOPE)),
        )
    )
    check_claude_run(lines, scenario, expected, exit_code=0)
    assert scenario.planted_secret is not None
    assert scenario.planted_secret not in run.runtime_path.read_text(encoding="utf-8")
    return run, [home, work, base]


# The first runs are in the default suite; the rest of the loss loop only in ``-m stress``.
RUNS = [
    *range(RUNS_PER_PROTOCOL),
    *(
        pytest.param(run, marks=pytest.mark.stress)
        for run in range(RUNS_PER_PROTOCOL, max(STRESS_RUNS, RUNS_PER_PROTOCOL))
    ),
]


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_exec_captures_every_event(
    protocol: str,
    run: int,
    claude_bin: Path,
    stub: MessagesStub,
    tmp_path: Path,
    record_figure: Callable[[RunFigure], None],
) -> None:
    await exec_full_run(claude_bin, stub, protocol, tmp_path, record_figure)


async def test_protocols_yield_the_same_lines(
    claude_bin: Path,
    stub: MessagesStub,
    tmp_path: Path,
    record_figure: Callable[[RunFigure], None],
) -> None:
    secret = fake_github_token()
    views = {}
    for index, protocol in enumerate(PROTOCOLS):
        # Same-length scratch paths: Claude reports sizes of tool inputs holding them.
        run, roots = await exec_full_run(
            claude_bin, stub, protocol, tmp_path / f"p{index}", record_figure, secret
        )
        lines = of_run(run.runtime(), run.result()["session_id"])
        views[protocol] = normalized(lines, roots)
    reference = views["http/protobuf"]
    expected = expect(full(tmp_path, secret))
    assert len(reference) > sum(expected.events.values()) + sum(expected.spans.values())
    for protocol in ("grpc", "http/json"):
        only_here = sorted(set(views[protocol]) - set(reference))
        only_there = sorted(set(reference) - set(views[protocol]))
        assert views[protocol] == reference, (
            f"{protocol} vs http/protobuf\nonly in {protocol}: {only_here[:3]}\n"
            f"only in http/protobuf: {only_there[:3]}"
        )


def _claude_child(pid: int) -> int:
    """The pid of the one child of ``pid``, checked to be Claude."""
    (child,) = (int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    assert b"claude" in Path(f"/proc/{child}/cmdline").read_bytes()
    return child


@pytest.mark.parametrize(
    ("target", "signum", "child_exit"),
    [
        ("beacon", signal.SIGTERM, 128 + signal.SIGTERM),
        ("claude", signal.SIGTERM, 128 + signal.SIGTERM),
        # GitHub cancels a job with SIGINT first; beacon forwards it once. Claude -p then
        # prints "Execution error" and exits 0 (!); beacon still reports the interruption.
        ("beacon", signal.SIGINT, 0),
    ],
    ids=["sigterm-beacon", "sigterm-claude", "sigint-beacon"],
)
async def test_signal_mid_task_keeps_what_was_flushed(
    target: str,
    signum: signal.Signals,
    child_exit: int,
    claude_bin: Path,
    stub: MessagesStub,
    tmp_path: Path,
) -> None:
    home, work, base = job_dirs(tmp_path)
    scenario = build("parked", work)
    stub.use(scenario.script)
    process = await asyncio.create_subprocess_exec(
        *BEACON,
        "ci",
        "exec",
        "--protocol",
        "grpc",
        "--base-dir",
        str(base),
        "--",
        str(claude_bin),
        *scenario.claude_args(),
        cwd=work,
        env=hermetic_env(home, stub.base_url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.wait_for(stub.parked.wait(), 30)
        os.kill(process.pid if target == "beacon" else _claude_child(process.pid), signum)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 128 + signum, stderr.decode(errors="replace")
    runtime = load_runtime(base / "runtime.jsonl")
    assert schema_errors(runtime) == []
    events = [
        line
        for line in claude_events(runtime)
        if source(line)["event_name"].removeprefix("claude_code.") not in HOUSEKEEPING_EVENTS
    ]
    assert [source(line)["event_name"] for line in events] == ["claude_code.user_prompt"]
    assert get(events[0], "prompt.text") == scenario.script.prompt
    exited = next(
        line for line in runtime if source(line).get("event_name") == "beacon.child.exited"
    )
    assert get(exited, "command.exit_code") == child_exit
    assert "beacon.collector.stopped" in lifecycle(runtime)


async def _exec_mcp_run(claude_bin: Path, stub: MessagesStub, tmp_path: Path) -> list[Line]:
    home, work, base = job_dirs(tmp_path)
    scenario = build("mcp", work)
    stub.use(scenario.script)
    run = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol="http/protobuf",
        base_dir=base,
        env=hermetic_env(home, stub.base_url),
        cwd=work,
    )
    assert run.process.returncode == 0, run.process.describe()
    lines = of_run(run.runtime(), run.result()["session_id"])
    assert schema_errors(lines) == []
    return lines


async def test_exec_maps_mcp_connections_and_tool_spans(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    lines = await _exec_mcp_run(claude_bin, stub, tmp_path)
    connections = [line for line in lines if get(line, "event.action") == "mcp.connection"]
    assert [get(line, "raw.status") for line in connections] == ["connected", "disconnected"]
    assert {get(line, "mcp.server") for line in connections} == {MCP_SERVER}
    spans = [
        line
        for line in from_scope(lines, TRACES_SCOPE)
        if get(line, "event.action") == "mcp.tool_invoked"
    ]
    assert [(get(line, "mcp.server"), get(line, "mcp.tool")) for line in spans] == [
        (MCP_SERVER, "echo")
    ]


# Claude names the tool `mcp_tool` on its events and puts server and tool into
# tool_parameters (docs/claude-code.md); the pipeline only recognises `mcp__<server>__<tool>`.
async def test_exec_maps_mcp_tool_result_events(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    lines = await _exec_mcp_run(claude_bin, stub, tmp_path)
    results = [
        line
        for line in claude_events(lines)
        if source(line)["event_name"] == "claude_code.tool_result"
    ]
    assert [
        (get(line, "event.action"), get(line, "mcp.server"), get(line, "mcp.tool"))
        for line in results
    ] == [("mcp.tool_invoked", MCP_SERVER, "echo")]


@pytest.mark.parametrize("name", ["api_error", "overloaded_exhausted"])
async def test_exec_reports_api_failures_with_the_child_exit_code(
    name: str, claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    home, work, base = job_dirs(tmp_path)
    scenario = build(name, work)
    expected = expect(scenario)
    stub.use(scenario.script)
    run = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol="grpc",
        base_dir=base,
        env=hermetic_env(home, stub.base_url),
        cwd=work,
    )
    assert run.process.returncode == expected.exit_code == 1, run.process.describe()
    result = run.result()
    assert result["validation"]["status"] == "ok"
    lines = of_run(run.runtime(), result["session_id"])
    check_claude_run(lines, scenario, expected, exit_code=1)
    errors = [line for line in lines if get(line, "event.action") == "session.error"]
    assert all(get(line, "error.type") for line in errors)
    if name == "api_error":
        assert [get(line, "rpc.response.status_code") for line in errors] == ["400"]
