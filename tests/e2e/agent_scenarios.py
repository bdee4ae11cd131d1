"""Scripted runs of the other agent CLIs (Gemini CLI) and the actions each must produce.

Like ``scenarios.py`` for Claude Code, every expectation is derived from the script.
Measured on Gemini CLI 0.61.0 (docs/gemini-cli.md): one ``user_prompt``; per function
call one ``tool_call`` event (``run_shell_command`` -> ``command.executed`` with the
command; ``write_file`` -> ``file.modified`` with the path, plus a ``file_operation``
``create`` -> ``file.modified`` without one); one ``api_response`` with tokens per
conversation turn and one for the model router's utility call.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from e2e.gemini_stub import Call, GeminiScript, Say
from e2e.responses_stub import CodexScript, FunctionCall, Reply

FAKE_GEMINI_KEY = "AIzaSy-beacon-e2e-fake-gemini-key-000000"
# Settings of the scratch HOME (a test fixture, not beacon's: beacon writes none): no usage
# statistics, no update check, API-key auth.
GEMINI_SETTINGS = {
    "privacy": {"usageStatisticsEnabled": False},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
    "security": {"auth": {"selectedType": "gemini-api-key"}},
}


def gemini_env(home: Path, stub_url: str) -> dict[str, str]:
    """Gemini's base environment: offline, pointed at the stub, no telemetry yet."""
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps(GEMINI_SETTINGS), encoding="utf-8")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "GEMINI_API_KEY": FAKE_GEMINI_KEY,
        "GOOGLE_GEMINI_BASE_URL": stub_url,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }


@dataclass(frozen=True)
class GeminiScenario:
    script: GeminiScript

    def args(self) -> list[str]:
        return ["-p", self.script.prompt, "--approval-mode", "yolo"]

    def expected_actions(self) -> Counter[str]:
        """Actions of the run's ``gemini_cli.*`` events (logs only)."""
        actions: Counter[str] = Counter({"prompt.submitted": 1})
        for turn in self.script.turns:
            if isinstance(turn, Call):
                if turn.name == "run_shell_command":
                    actions["command.executed"] += 1
                elif turn.name == "write_file":
                    actions["file.modified"] += 2
        return actions

    def commands(self) -> list[str]:
        return [
            str(turn.args["command"])
            for turn in self.script.turns
            if isinstance(turn, Call) and turn.name == "run_shell_command"
        ]

    def written(self) -> list[str]:
        return [
            str(turn.args["file_path"])
            for turn in self.script.turns
            if isinstance(turn, Call) and turn.name == "write_file"
        ]

    def conversation_turns(self) -> int:
        return len(self.script.turns)


def gemini_shell_and_write(work: Path) -> GeminiScenario:
    return GeminiScenario(
        GeminiScript(
            "shell_and_write",
            "Run echo hi, then write notes.txt for the release",
            [
                Call("run_shell_command", {"command": "echo hi", "description": "say hi"}),
                Call("write_file", {"file_path": str(work / "notes.txt"), "content": "alpha\n"}),
                Say("All done."),
            ],
        )
    )


GEMINI_SCENARIOS: dict[str, Callable[[Path], GeminiScenario]] = {
    "shell_and_write": gemini_shell_and_write,
}


# --- Codex CLI ----------------------------------------------------------------------------

FAKE_CODEX_KEY = "sk-beacon-e2e-fake-codex-key-0000000000"
PATCH_NOTES = (
    "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: notes.txt\n+alpha\n*** End Patch\nEOF\n"
)


def codex_env(home: Path, stub_url: str) -> dict[str, str]:
    """The user's own Codex setup in a scratch HOME (a test fixture, not beacon's): a stub
    provider, no plugin fetch, no update check. beacon merges it into its CODEX_HOME."""
    user = home / ".codex"
    user.mkdir(parents=True, exist_ok=True)
    (user / "config.toml").write_text(
        "\n".join(
            [
                'model = "gpt-5-codex"',
                'model_provider = "stub"',
                "check_for_update_on_startup = false",
                "",
                "[features]",
                "plugins = false",
                "",
                "[model_providers.stub]",
                'name = "stub"',
                f'base_url = "{stub_url}"',
                'wire_api = "responses"',
                'env_key = "BEACON_E2E_STUB_KEY"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "BEACON_E2E_STUB_KEY": FAKE_CODEX_KEY,
        "NO_PROXY": "127.0.0.1,localhost",
    }


@dataclass(frozen=True)
class CodexScenario:
    script: CodexScript

    def args(self) -> list[str]:
        return ["exec", "--skip-git-repo-check", "-s", "workspace-write", self.script.prompt]

    def commands(self) -> list[str]:
        return [
            str(turn.arguments["cmd"])
            for turn in self.script.turns
            if isinstance(turn, FunctionCall) and "*** Begin Patch" not in turn.arguments["cmd"]
        ]

    def patched(self) -> list[str]:
        return [
            "notes.txt"
            for turn in self.script.turns
            if isinstance(turn, FunctionCall) and "*** Begin Patch" in turn.arguments["cmd"]
        ]

    def calls(self) -> int:
        return sum(isinstance(turn, FunctionCall) for turn in self.script.turns)

    def conversation_turns(self) -> int:
        return len(self.script.turns)


def codex_shell_and_patch(work: Path) -> CodexScenario:
    return CodexScenario(
        CodexScript(
            "shell_and_patch",
            "Run echo hi, then add notes.txt with a patch",
            [
                FunctionCall("exec_command", {"cmd": "echo hi"}),
                FunctionCall("exec_command", {"cmd": PATCH_NOTES}),
                Reply("All done."),
            ],
        )
    )


CODEX_SCENARIOS: dict[str, Callable[[Path], CodexScenario]] = {
    "shell_and_patch": codex_shell_and_patch,
}
