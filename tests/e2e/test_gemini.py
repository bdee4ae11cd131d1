"""The real Gemini CLI under ``beacon ci exec --harness gemini`` and in a session.

Each run is one job (``agent_job.py``: the Gemini API stub, beacon, the CLI) inside a
loopback-only network namespace when the tests run as root. The expectations come from
the script (``agent_scenarios``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from e2e.agent_job import run_agent_job
from e2e.agent_scenarios import GEMINI_SCENARIOS, GeminiScenario
from e2e.claude_install import GEMINI_CLI, ensure_agent
from e2e.claude_runner import PROTOCOLS
from e2e.runtime_checks import Line, get, schema_errors, source

JOB_LIMIT_S = 600.0
HTTP_NOTE = "Gemini CLI speaks OTLP/HTTP with JSON bodies only"


@pytest.fixture(scope="session")
def gemini_bin() -> Path:
    return ensure_agent(GEMINI_CLI)


async def run_gemini_job(
    binary: Path, root: Path, protocol: str, mode: str, options: list[str] | None = None
) -> tuple[GeminiScenario, dict[str, Any], list[Line]]:
    scenario = GEMINI_SCENARIOS["shell_and_write"](root / "work")
    outcome, lines = await run_agent_job(
        "gemini",
        binary,
        "shell_and_write",
        root,
        protocol=protocol,
        mode=mode,
        options=["--harness", "gemini", *(options or [])],
    )
    return scenario, outcome, lines


def gemini_log_actions(lines: list[Line]) -> Counter[str]:
    return Counter(
        str(get(line, "event.action"))
        for line in lines
        if get(line, "harness.name") == "gemini_cli" and source(line).get("signal") == "logs"
    )


def check_gemini_run(
    scenario: GeminiScenario,
    outcome: dict[str, Any],
    lines: list[Line],
    *,
    prompt_logging: bool = True,
) -> None:
    """``prompt_logging`` False: Gemini's prompt logging also hides the tool arguments
    (measured on 0.61.0), so commands and paths are absent, the actions are not."""
    assert schema_errors(lines) == []
    gemini = [line for line in lines if get(line, "harness.name") == "gemini_cli"]
    assert gemini, "no Gemini CLI record reached runtime.jsonl"
    assert {get(line, "harness.version") for line in gemini} == {"unknown"}
    actions = gemini_log_actions(lines)
    expected = scenario.expected_actions()
    assert {name: actions[name] for name in expected} == dict(expected), actions
    commands = [
        get(line, "command.command")
        for line in gemini
        if get(line, "event.action") == "command.executed"
    ]
    assert commands == (scenario.commands() if prompt_logging else [None] * len(commands))
    paths = [
        get(line, "file.path")
        for line in gemini
        if get(line, "event.action") == "file.modified" and get(line, "file.path")
    ]
    assert paths == (scenario.written() if prompt_logging else [])
    (prompt,) = [line for line in gemini if get(line, "event.action") == "prompt.submitted"]
    responses = [
        line for line in gemini if source(line).get("event_name") == "gemini_cli.api_response"
    ]
    assert len(responses) == outcome["requests"].count("conversation") + outcome["requests"].count(
        "utility"
    )
    assert outcome["requests"].count("conversation") == scenario.conversation_turns()
    assert all(get(line, "gen_ai.usage.input_tokens") == 100 for line in responses)
    assert all(get(line, "gen_ai.usage.cost_usd") is None for line in lines)
    assert outcome["requests"].count("unknown") == 0
    assert prompt is not None


async def test_gemini_exec_on_every_protocol_gives_the_same_actions(
    gemini_bin: Path, tmp_path: Path
) -> None:
    views = {}
    for index, protocol in enumerate(PROTOCOLS):
        scenario, outcome, lines = await run_gemini_job(
            gemini_bin, tmp_path / f"p{index}", protocol, "exec"
        )
        check_gemini_run(scenario, outcome, lines)
        (prompt,) = [line for line in lines if get(line, "event.action") == "prompt.submitted"]
        assert get(prompt, "prompt.text") == scenario.script.prompt
        note_given = HTTP_NOTE in outcome["steps"][0]["stderr"]
        assert note_given == (protocol != "grpc"), outcome["steps"][0]["stderr"]
        views[protocol] = gemini_log_actions(lines)
    assert views["grpc"] == views["http/protobuf"] == views["http/json"]


SESSION_CASES = [
    pytest.param(protocol, marks=[] if protocol == "grpc" else [pytest.mark.matrix])
    for protocol in PROTOCOLS
]


@pytest.mark.parametrize("protocol", SESSION_CASES)
async def test_gemini_session(protocol: str, gemini_bin: Path, tmp_path: Path) -> None:
    scenario, outcome, lines = await run_gemini_job(gemini_bin, tmp_path, protocol, "session")
    check_gemini_run(scenario, outcome, lines)


async def test_gemini_no_prompts_leaves_no_prompt_anywhere(
    gemini_bin: Path, tmp_path: Path
) -> None:
    scenario, outcome, lines = await run_gemini_job(
        gemini_bin, tmp_path, "http/json", "exec", ["--no-prompts"]
    )
    check_gemini_run(scenario, outcome, lines, prompt_logging=False)
    for path in (tmp_path / "beacon").iterdir():
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert scenario.script.prompt not in text, path
    (started,) = [
        line for line in lines if source(line).get("event_name") == "beacon.child.started"
    ]
    assert f"<prompt withheld: {len(scenario.script.prompt)} chars>" in get(
        started, "command.command"
    )
