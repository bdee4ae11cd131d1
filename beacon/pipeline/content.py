"""What ``--no-prompts`` and ``--no-tool-details`` withhold from records, as data (pure).

The switches turn the clients' own content switches off, but some clients send content
anyway: Claude Code's ``claude_code.tool`` span carries ``bash_argv0`` with tool details
off, Gemini CLI's resource carries the ``-p`` prompt in ``process.command_args``, Codex CLI
always exports commands and their output. The pipeline drops these attributes from every
record that is not beacon's own before mapping, so no field and no ``raw`` key holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Attribute names (any client) that hold prompt text.
PROMPT_ATTRIBUTES = (
    "prompt",  # Claude user_prompt, Codex codex.user_prompt, Gemini gemini_cli.user_prompt
    "prompt_text",  # Claude 2.1.332 user_prompt (the prompt a second time)
    "user_prompt",  # Claude claude_code.interaction span
    "request_text",  # Gemini gemini_cli.api_request (the request, prompt included)
    "gen_ai.input.messages",  # GenAI semantic conventions (Gemini spans and details)
    "process.command_args",  # Gemini resource: argv with the -p prompt
)
# Attribute names that hold what a tool was asked to do (commands, paths, arguments).
TOOL_DETAIL_ATTRIBUTES = (
    "bash_argv0",  # Claude 2.1.332 tool span: the command's program, sent even when off
    "full_command",
    "tool_parameters",
    "tool_input",
    "file_path",
    "function_args",  # Gemini gemini_cli.tool_call
    "arguments",  # Codex codex.tool_result (the command under `cmd`)
    "output",  # Codex codex.tool_result (the command's output)
)


def withheld_attributes(*, prompts: bool, tool_details: bool) -> frozenset[str]:
    """The attribute names the pipeline drops for these switches."""
    names: set[str] = set()
    if not prompts:
        names.update(PROMPT_ATTRIBUTES)
    if not tool_details:
        names.update(TOOL_DETAIL_ATTRIBUTES)
    return frozenset(names)


def without(attrs: dict[str, Any], withheld: frozenset[str]) -> dict[str, Any]:
    """``attrs`` without the withheld names (the same dict when none is present)."""
    if not withheld or withheld.isdisjoint(attrs):
        return attrs
    return {key: value for key, value in attrs.items() if key not in withheld}


def has_any(attrs: Mapping[str, Any], withheld: frozenset[str]) -> bool:
    return not withheld.isdisjoint(attrs)
