"""The real Codex CLI under ``beacon ci exec --harness codex`` and in a session.

Each run is one job (``agent_job.py``: the Responses API stub, beacon, the CLI) inside a
loopback-only network namespace when the tests run as root. Codex speaks all three
protocols; the expectations come from the script (``agent_scenarios``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from e2e.agent_job import run_agent_job
from e2e.agent_scenarios import CODEX_SCENARIOS, CodexScenario
from e2e.claude_install import CODEX_CLI, ensure_agent
from e2e.claude_runner import PROTOCOLS
from e2e.runtime_checks import Line, get, schema_errors, source

# Codex posts turn costs to its provider's base URL; the stub answers 404 and Codex goes on.
ANALYTICS_PATH = "/v1/analytics/codex/turn-costs"


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    return ensure_agent(CODEX_CLI)


async def run_codex_job(
    binary: Path, root: Path, protocol: str, mode: str, options: list[str] | None = None
) -> tuple[CodexScenario, dict[str, Any], list[Line]]:
    scenario = CODEX_SCENARIOS["shell_and_patch"](root / "work")
    outcome, lines = await run_agent_job(
        "codex",
        binary,
        "shell_and_patch",
        root,
        protocol=protocol,
        mode=mode,
        options=["--harness", "codex", *(options or [])],
    )
    assert (root / "work" / "notes.txt").read_text() == "alpha\n", "the patch did not apply"
    return scenario, outcome, lines


def codex_log_actions(lines: list[Line]) -> Counter[str]:
    return Counter(
        str(get(line, "event.action"))
        for line in lines
        if get(line, "harness.name") == "codex_cli" and source(line).get("signal") == "logs"
    )


def check_codex_run(scenario: CodexScenario, outcome: dict[str, Any], lines: list[Line]) -> None:
    assert schema_errors(lines) == []
    codex = [line for line in lines if get(line, "harness.name") == "codex_cli"]
    assert codex, "no Codex CLI record reached runtime.jsonl"
    assert {get(line, "harness.version") for line in codex} == {"0.171.0"}
    actions = codex_log_actions(lines)
    assert actions["prompt.submitted"] == 1
    assert actions["approval.allowed"] == scenario.calls()
    assert actions["command.executed"] == len(scenario.commands())
    assert actions["file.modified"] == len(scenario.patched())
    commands = [
        get(line, "command.command")
        for line in codex
        if get(line, "event.action") == "command.executed"
    ]
    assert commands == scenario.commands()
    paths = [
        get(line, "file.path") for line in codex if get(line, "event.action") == "file.modified"
    ]
    assert paths == scenario.patched()
    usage = [get(line, "gen_ai.usage") for line in codex if get(line, "gen_ai.usage")]
    assert len(usage) == scenario.conversation_turns() == outcome["requests"].count("conversation")
    assert all(u["input_tokens"] == 1200 and "cost_usd" not in u for u in usage)
    spans = {
        source(line).get("event_name") for line in codex if source(line).get("signal") == "traces"
    }
    assert spans <= {"handle_responses", "session_task.turn"}
    unknown = [
        p for p, k in zip(outcome["paths"], outcome["requests"], strict=True) if k == "unknown"
    ]
    assert set(unknown) <= {ANALYTICS_PATH}, unknown
    assert all(not str(line.get("timestamp", "")).startswith("1970") for line in codex)


async def test_codex_exec_on_every_protocol_gives_the_same_actions(
    codex_bin: Path, tmp_path: Path
) -> None:
    views = {}
    for index, protocol in enumerate(PROTOCOLS):
        scenario, outcome, lines = await run_codex_job(
            codex_bin, tmp_path / f"p{index}", protocol, "exec"
        )
        check_codex_run(scenario, outcome, lines)
        (prompt,) = [line for line in lines if get(line, "event.action") == "prompt.submitted"]
        assert get(prompt, "prompt.text") == scenario.script.prompt
        views[protocol] = codex_log_actions(lines)
    assert views["grpc"] == views["http/protobuf"] == views["http/json"]


SESSION_CASES = [
    pytest.param(protocol, marks=[] if protocol == "http/json" else [pytest.mark.matrix])
    for protocol in PROTOCOLS
]


@pytest.mark.parametrize("protocol", SESSION_CASES)
async def test_codex_session(protocol: str, codex_bin: Path, tmp_path: Path) -> None:
    scenario, outcome, lines = await run_codex_job(codex_bin, tmp_path, protocol, "session")
    check_codex_run(scenario, outcome, lines)
    # The user's Codex config and files were merged, not replaced, and beacon's copy is gone.
    assert not (tmp_path / "beacon" / "codex-home").exists()
    assert "[otel]" not in (tmp_path / "home" / ".codex" / "config.toml").read_text()
