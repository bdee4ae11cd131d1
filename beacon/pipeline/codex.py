"""Which runtime action a Codex CLI record becomes (pure, the mapping as data).

Codex CLI (measured on 0.171.0 from its fact sheet, docs/codex-cli.md) names its events in
the ``event.name`` attribute (``codex.tool_result``…); the OTLP ``eventName`` holds a
source location, the body is empty and ``timeUnixNano`` is 0 (the observed time is used).
Many numbers arrive as strings. It sends no cost: ``gen_ai.usage.cost_usd`` stays absent.
File edits have no event of their own: the model runs ``apply_patch`` through the shell
tool, so the paths come from the patch text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from beacon.pipeline.actions import (
    ALLOW_DECISIONS,
    Fields,
    as_text,
    file_language,
    parse_json_object,
    prompt_text,
    put,
    put_token_counts,
)
from beacon.pipeline.decode import as_bool, as_int

SCOPE_PREFIX = "codex"
TOKEN_COUNTS = {
    "gen_ai.usage.input_tokens": "input_token_count",
    "gen_ai.usage.output_tokens": "output_token_count",
    "gen_ai.usage.cache_read.input_tokens": "cached_token_count",
    "gen_ai.usage.cache_creation.input_tokens": "cache_write_token_count",
    "gen_ai.usage.reasoning.output_tokens": "reasoning_token_count",
}
SERVICE_PREFIX = "codex"
EVENT_PREFIX = "codex."
HARNESS = "codex_cli"
PROVIDER = "openai"
SHELL_TOOLS = frozenset({"exec_command", "shell", "local_shell", "container.exec"})
PATCH_TOOLS = frozenset({"apply_patch"})
# Spans kept in runtime.jsonl: the ones that carry usage (the rest, ~550 per turn, are
# internal file-system and sqlite calls).
KEPT_SPANS = frozenset({"handle_responses", "session_task.turn"})
_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+?)\s*$", re.MULTILINE)
_PATCH_OPERATIONS = {"Add": "create", "Update": "edit", "Delete": "delete"}
_EXIT_CODE = re.compile(r"Process exited with code (-?\d+)")
FAILED_SSE_KINDS = frozenset({"response.failed", "error", "response.incomplete"})


def patch_files(text: str) -> list[tuple[str, str]]:
    """``(operation, path)`` of every file an ``apply_patch`` text touches, in order."""
    return [(_PATCH_OPERATIONS[m.group(1)], m.group(2)) for m in _PATCH_FILE.finditer(text)]


def _command_text(arguments: Mapping[str, Any]) -> str | None:
    command = arguments.get("cmd", arguments.get("command"))
    if isinstance(command, list) and all(isinstance(part, str) for part in command):
        # ["bash", "-lc", "<script>"]: the script is the command.
        if len(command) == 3 and command[1] in ("-c", "-lc"):
            return str(command[2])
        return shlex.join(command)
    return as_text(command)


def _tool_result(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    name = as_text(attrs.get("tool_name")) or "unknown"
    put(fields, "tool.name", name)
    put(fields, "gen_ai.tool.name", name)
    put(fields, "gen_ai.tool.call.id", as_text(attrs.get("call_id")))
    arguments = parse_json_object(attrs.get("arguments"))
    raw_arguments = as_text(attrs.get("arguments")) or ""
    command = _command_text(arguments)
    patch = as_text(arguments.get("input")) if name in PATCH_TOOLS else None
    if patch is None and command is not None and "*** Begin Patch" in command:
        patch = command
    action = "tool.invoked"
    if patch is not None or (name in PATCH_TOOLS and "*** Begin Patch" in raw_arguments):
        files = patch_files(patch or raw_arguments)
        action = "file.modified"
        if files:
            operation, path = files[0]
            put(fields, "file.path", path)
            put(fields, "tool.path", path)
            put(fields, "file.operation", operation)
            put(fields, "file.language", file_language(path))
    elif name in SHELL_TOOLS or command is not None:
        action = "command.executed"
        put(fields, "command.command", command)
        put(fields, "tool.command", command)
        put(fields, "command.duration_ms", as_int(attrs.get("duration_ms")))
        output = as_text(attrs.get("output")) or ""
        found = _EXIT_CODE.search(output)
        if found:
            put(fields, "command.exit_code", int(found.group(1)))
    if as_bool(attrs.get("success")) is False:
        put(fields, "error.type", "failed")
        return "tool.failed", fields
    return action, fields


def _tool_decision(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    decision = as_text(attrs.get("decision"))
    put(fields, "approval.decision", decision)
    put(fields, "approval.reason", as_text(attrs.get("source")))
    name = as_text(attrs.get("tool_name"))
    put(fields, "tool.name", name)
    put(fields, "gen_ai.tool.name", name)
    put(fields, "gen_ai.tool.call.id", as_text(attrs.get("call_id")))
    allowed = decision is not None and decision.lower() in ALLOW_DECISIONS
    return ("approval.allowed" if allowed else "approval.denied"), fields


def _user_prompt(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    put(fields, "prompt.text", prompt_text(attrs))
    return "prompt.submitted", fields


def _api_request(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    put(fields, "model", as_text(attrs.get("model")))
    put(fields, "gen_ai.provider.name", PROVIDER)
    status = as_text(attrs.get("http.response.status_code"))
    put(fields, "rpc.response.status_code", status)
    error = as_text(attrs.get("error.message")) or as_text(attrs.get("error"))
    code = as_int(status)
    if error or (code is not None and code >= 400):
        put(fields, "error.type", error or f"http {status}")
        return "session.error", fields
    return "session.activity", fields


def _sse_event(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    kind = as_text(attrs.get("event.kind")) or ""
    model = as_text(attrs.get("model"))
    put(fields, "model", model)
    if kind in FAILED_SSE_KINDS:
        message = as_text(attrs.get("error.message")) or as_text(attrs.get("error"))
        put(fields, "error.type", message or kind)
        return "session.error", fields
    if "input_token_count" in attrs or "output_token_count" in attrs:
        put(fields, "gen_ai.provider.name", PROVIDER)
        put(fields, "gen_ai.response.model", model)
        put_token_counts(fields, attrs, TOKEN_COUNTS)
        ttft = as_int(attrs.get("ttft_ms"))
        if ttft is not None:
            put(fields, "gen_ai.response.time_to_first_chunk", ttft / 1000.0)
    return "session.activity", fields


EVENTS: Mapping[str, Callable[[Mapping[str, Any]], tuple[str, Fields]]] = {
    "user_prompt": _user_prompt,
    "tool_decision": _tool_decision,
    "tool_result": _tool_result,
    "api_request": _api_request,
    "sse_event": _sse_event,
}
STATUS_EVENTS = frozenset({"conversation_starts"})


def codex_event(event_name: str, attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    """A ``codex.<name>`` log record (``event_name`` as sent, prefix included)."""
    name = event_name.removeprefix(EVENT_PREFIX)
    mapper = EVENTS.get(name)
    if mapper is not None:
        return mapper(attrs)
    fields: Fields = {}
    put(fields, "model", as_text(attrs.get("model")))
    if name in STATUS_EVENTS:
        return "session.status", fields
    return "session.activity", fields
