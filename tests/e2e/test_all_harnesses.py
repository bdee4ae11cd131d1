"""``--harness claude,codex,gemini``: the three real CLIs as steps of one session."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from e2e.agent_job import run_agent_job
from e2e.claude_install import CODEX_CLI, GEMINI_CLI, ensure_agent, ensure_claude_code
from e2e.runtime_checks import Line, get, schema_errors, source

HARNESSES = ("claude_code", "codex_cli", "gemini_cli")
SCOPES = {
    "claude_code": ("com.anthropic.claude_code",),
    "codex_cli": ("codex",),
    "gemini_cli": ("gemini-cli",),
}


def actions_of(lines: list[Line], harness: str) -> Counter[str]:
    return Counter(
        str(get(line, "event.action"))
        for line in lines
        if get(line, "harness.name") == harness and source(line).get("signal") == "logs"
    )


async def test_three_agents_in_one_session(tmp_path: Path) -> None:
    agents = [
        ["claude", str(ensure_claude_code()), "bash"],
        ["codex", str(ensure_agent(CODEX_CLI)), "shell_and_patch"],
        ["gemini", str(ensure_agent(GEMINI_CLI)), "shell_and_write"],
    ]
    outcome, lines = await run_agent_job(
        "claude",
        Path(agents[0][1]),
        "bash",
        tmp_path,
        protocol="http/json",
        mode="session",
        options=["--harness", "claude,codex,gemini"],
        agents=agents,
    )
    assert schema_errors(lines) == []
    validation = outcome["result"]["validation"]
    counts = validation["harness_events"]
    assert set(counts) == set(HARNESSES) and all(counts[name] > 0 for name in HARNESSES)
    (stage,) = [s for s in validation["stages"] if s["name"] == "harness_events"]
    assert all(f"{name} {counts[name]}" in stage["message"] for name in HARNESSES)
    for line in lines:
        harness = get(line, "harness.name")
        if harness in SCOPES:
            assert str(source(line).get("scope")).startswith(SCOPES[harness]), line
    for harness in HARNESSES:
        actions = actions_of(lines, harness)
        assert actions["prompt.submitted"] == 1, (harness, actions)
        assert actions["command.executed"] == 1, (harness, actions)
    assert actions_of(lines, "codex_cli")["file.modified"] == 1
    assert actions_of(lines, "gemini_cli")["file.modified"] == 2
    costs = {
        harness: [
            get(line, "gen_ai.usage.cost_usd")
            for line in lines
            if get(line, "harness.name") == harness and get(line, "gen_ai.usage")
        ]
        for harness in HARNESSES
    }
    assert costs["claude_code"] and all(cost > 0 for cost in costs["claude_code"])
    assert costs["codex_cli"] and all(cost is None for cost in costs["codex_cli"])
    assert costs["gemini_cli"] and all(cost is None for cost in costs["gemini_cli"])


async def test_a_silent_agent_is_named(tmp_path: Path) -> None:
    agents = [
        ["claude", str(ensure_claude_code()), "bash"],
        ["codex", str(ensure_agent(CODEX_CLI)), "shell_and_patch"],
    ]
    outcome, _ = await run_agent_job(
        "claude",
        Path(agents[0][1]),
        "bash",
        tmp_path,
        protocol="grpc",
        mode="session",
        options=["--harness", "claude,codex,gemini"],
        agents=agents,
        must_validate=False,
    )
    stopped = outcome["steps"][-1]
    assert stopped["returncode"] == 3, stopped["stderr"]
    validation = outcome["result"]["validation"]
    assert validation["status"] == "fail"
    (stage,) = [s for s in validation["stages"] if s["name"] == "harness_events"]
    assert stage["status"] == "fail"
    assert stage["message"].endswith("no events from gemini_cli")
    assert validation["harness_events"]["gemini_cli"] == 0
