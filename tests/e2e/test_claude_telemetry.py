"""The real Claude Code, driven by the Messages stub, exporting to an in-process Collector.

Proves the harness itself (install, stub, hermetic env) and pins what the client exports
for each script -- the expectations come from the script (``scenarios.expect``).
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from beacon.collector import Collector
from e2e.claude_checks import check_run, claude_events, metric_total
from e2e.claude_runner import (
    PROTOCOLS,
    ProcessResult,
    hermetic_env,
    run_process,
    telemetry_env,
)
from e2e.messages_stub import MessagesStub
from e2e.otlp_view import capture_spool
from e2e.scenarios import COMPLETE, HOUSEKEEPING_EVENTS, Scenario, build, expect

QUIET_S = 0.3
DRAIN_MAX_S = 5.0


@dataclass(frozen=True)
class ScriptedClaude:
    """The real Claude Code against the stub, exporting to the test's collector."""

    binary: Path
    stub: MessagesStub
    collector: Collector
    token: str
    home: Path
    workdir: Path

    def prepare(self, name: str, protocol: str) -> tuple[Scenario, dict[str, str]]:
        """Load scenario ``name`` into the stub; the environment to run Claude with."""
        scenario = build(name, self.workdir)
        self.stub.use(scenario.script)
        receiver = "grpc" if protocol == "grpc" else "http"
        env = {
            **hermetic_env(self.home, self.stub.base_url),
            **telemetry_env(protocol, self.collector.endpoints[receiver], self.token),
        }
        return scenario, env

    async def run(self, name: str, protocol: str) -> tuple[Scenario, ProcessResult]:
        scenario, env = self.prepare(name, protocol)
        command = [str(self.binary), *scenario.claude_args()]
        return scenario, await run_process(command, env, self.workdir)


@pytest.fixture
def claude(
    claude_bin: Path,
    stub: MessagesStub,
    collector: Collector,
    collector_token: str,
    claude_home: Path,
    workdir: Path,
) -> ScriptedClaude:
    return ScriptedClaude(claude_bin, stub, collector, collector_token, claude_home, workdir)


# Each scenario runs once; the protocol rotates so every protocol sees every kind of record.
@pytest.mark.parametrize(
    ("name", "protocol"),
    [(name, PROTOCOLS[index % len(PROTOCOLS)]) for index, name in enumerate(COMPLETE)],
)
async def test_scripted_run_exports_what_the_script_implies(
    name: str, protocol: str, claude: ScriptedClaude
) -> None:
    scenario, result = await claude.run(name, protocol)
    expected = expect(scenario)
    await claude.collector.wait_quiet(QUIET_S, DRAIN_MAX_S)
    await claude.collector.stop()

    assert result.returncode == expected.exit_code, result.describe()
    check_run(capture_spool(claude.collector.config.spool_path), scenario, expected)


async def test_tool_results_reach_the_model(claude: ScriptedClaude) -> None:
    """The stub's view of the same run: Claude really ran the tools it reported."""
    scenario, result = await claude.run("files", "http/protobuf")

    assert result.returncode == 0, result.describe()
    assert (claude.workdir / "notes.txt").read_text() == "alpha\ngamma\ndelta\n"
    assert (claude.workdir / "hello.py").read_text() == "print('hi')\n"
    conversation = claude.stub.by_kind("conversation")
    assert len(conversation) == len(scenario.script.turns)
    answered = [request.tool_results() for request in conversation[1:]]
    assert all(len(results) == 1 for results in answered)
    assert not any(results[0].get("is_error") for results in answered)
    assert claude.stub.by_kind("unknown") == []
    assert all(
        request.headers.get("x-api-key", "").startswith("sk-ant-") for request in conversation
    )


async def test_sigterm_mid_task_flushes_what_happened_so_far(claude: ScriptedClaude) -> None:
    scenario, env = claude.prepare("parked", "grpc")
    process = await asyncio.create_subprocess_exec(
        str(claude.binary),
        *scenario.claude_args(),
        cwd=claude.workdir,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(claude.stub.parked.wait(), 30)
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    await claude.collector.wait_quiet(QUIET_S, DRAIN_MAX_S)
    await claude.collector.stop()

    assert returncode == 128 + signal.SIGTERM
    capture = capture_spool(claude.collector.config.spool_path)
    events = [row for row in claude_events(capture) if row.event_name not in HOUSEKEEPING_EVENTS]
    assert [row.event_name for row in events] == ["user_prompt"]
    assert events[0].attributes["prompt"] == scenario.script.prompt
    assert metric_total(capture, "session.count") == 1
    assert [span.name for span in capture.spans] == ["claude_code.interaction"]


async def test_exports_have_landed_when_the_process_exits(claude: ScriptedClaude) -> None:
    """Claude flushes before exiting: the drain after its exit receives nothing more."""
    scenario, result = await claude.run("bash", "http/json")
    drain = await claude.collector.wait_quiet(QUIET_S, DRAIN_MAX_S)
    await claude.collector.stop()

    assert result.returncode == 0, result.describe()
    assert (drain.records, drain.timed_out) == (0, False)
    check_run(capture_spool(claude.collector.config.spool_path), scenario, expect(scenario))
