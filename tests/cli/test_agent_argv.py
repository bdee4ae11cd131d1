"""``--no-prompts`` masks the prompt argument of a known agent CLI in ``child.started``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beacon.agents.argv import mask_prompts, prompt_marker
from beacon.run.exec import child_started_attributes

PROMPT = "Fix the bug in main.py"
MARK = prompt_marker(PROMPT)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["/opt/bin/claude", "-p", PROMPT, "--allowedTools", "Bash"],
            ["/opt/bin/claude", "-p", MARK, "--allowedTools", "Bash"],
        ),
        (
            ["claude", "--model", "opus", "--print", "--allowedTools", "Bash", PROMPT],
            ["claude", "--model", "opus", "--print", "--allowedTools", "Bash", MARK],
        ),
        (
            ["claude", "-p", PROMPT, "--append-system-prompt", "be terse"],
            ["claude", "-p", MARK, "--append-system-prompt", prompt_marker("be terse")],
        ),
        (
            ["codex", "exec", "--skip-git-repo-check", "-m", "gpt-5", PROMPT],
            ["codex", "exec", "--skip-git-repo-check", "-m", "gpt-5", MARK],
        ),
        (["codex", "-c", "x=1", "exec", PROMPT], ["codex", "-c", "x=1", "exec", MARK]),
        (
            ["gemini", "-p", PROMPT, "--approval-mode", "yolo"],
            ["gemini", "-p", MARK, "--approval-mode", "yolo"],
        ),
        (["gemini", f"--prompt={PROMPT}"], ["gemini", f"--prompt={MARK}"]),
        (["npx", "gemini", "-p", PROMPT], ["npx", "gemini", "-p", MARK]),
        # An unknown option's value might be the prompt: masked (safe side).
        (["claude", "-p", "--new-flag", PROMPT], ["claude", "-p", "--new-flag", MARK]),
    ],
)
def test_prompt_arguments_are_masked(argv: list[str], expected: list[str]) -> None:
    assert mask_prompts(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["claude", "doctor"],  # not headless: no prompt argument
        ["codex", "login"],
        ["make", "test", PROMPT],  # not an agent CLI
        ["python", "-m", "pytest", "-p", "no:cacheprovider"],
    ],
)
def test_other_commands_are_kept(argv: list[str]) -> None:
    assert mask_prompts(argv) == argv


def test_marker_gives_the_length() -> None:
    assert MARK == "<prompt withheld: 22 chars>"


def test_child_started_masks_only_with_prompts_off() -> None:
    argv = ["claude", "-p", PROMPT]
    kept = json.loads(child_started_attributes(argv, "/w", 7)["command"])
    masked = json.loads(child_started_attributes(argv, "/w", 7, prompts=False)["command"])
    assert kept == argv
    assert masked == ["claude", "-p", MARK]


def test_session_state_keeps_the_content_switches(tmp_path: Path) -> None:
    from beacon.agents.harnesses import Switches
    from beacon.config import CaptureSettings
    from beacon.paths import ArtifactPaths
    from beacon.run.state import SessionState

    paths = ArtifactPaths.create(tmp_path, None)
    settings = CaptureSettings(paths=paths, switches=Switches(prompts=False, tool_details=False))
    state = SessionState.begin(
        settings,
        paths,
        session_id="s",
        pid=1,
        token="t",
        endpoints={"http": "http://127.0.0.1:1"},
        status_url="http://127.0.0.1:1/beacon/status",
        exports={},
    )
    loaded = SessionState.from_mapping(json.loads(state.to_json()))
    assert loaded.switches() == Switches(prompts=False, tool_details=False)
    # A state written before the switches were recorded keeps everything on.
    older = {
        k: v for k, v in json.loads(state.to_json()).items() if k not in ("prompts", "tool_details")
    }
    assert SessionState.from_mapping(older).switches() == Switches()
