"""Which runtime action a Gemini CLI record becomes (pure, the mapping as data).

Gemini CLI (measured on 0.61.0, docs/gemini-cli.md) names its events in the ``event.name``
attribute (``gemini_cli.tool_call``…), its scope is ``gemini-cli`` on every signal, numbers
arrive as strings and empty values as an empty ``AnyValue`` (decoded as None, so never
written). It sends no cost: ``gen_ai.usage.cost_usd`` stays absent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from beacon.pipeline.actions import (
    Fields,
    as_text,
    file_language,
    parse_json_object,
    prompt_text,
    put,
    put_token_counts,
)
from beacon.pipeline.decode import as_bool, as_int

SCOPE = "gemini-cli"
EVENT_PREFIX = "gemini_cli."
HARNESS = "gemini_cli"
PROVIDER = "gcp.gen_ai"  # what Gemini CLI itself puts in gen_ai.provider.name
TOKEN_COUNTS = {
    "gen_ai.usage.input_tokens": "input_token_count",
    "gen_ai.usage.output_tokens": "output_token_count",
    "gen_ai.usage.cache_read.input_tokens": "cached_content_token_count",
    "gen_ai.usage.reasoning.output_tokens": "thoughts_token_count",
}

# function_name -> (action, argument holding the command or path, file.operation)
TOOLS: Mapping[str, tuple[str, str, str | None]] = {
    "run_shell_command": ("command.executed", "command", None),
    "write_file": ("file.modified", "file_path", "write"),
    "replace": ("file.modified", "file_path", "edit"),
    "read_file": ("file.read", "absolute_path", "read"),
    "read_many_files": ("file.read", "paths", "read"),
}
# file_operation `operation` -> (action, file.operation)
FILE_OPERATIONS: Mapping[str, tuple[str, str]] = {
    "create": ("file.modified", "create"),
    "update": ("file.modified", "update"),
    "read": ("file.read", "read"),
}
DENIED_DECISIONS = frozenset({"reject", "cancel", "deny"})
DENIED_ERRORS = frozenset({"policy_violation"})
STATUS_EVENTS = frozenset({"config"})


def _tool_call(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    name = as_text(attrs.get("function_name")) or "unknown"
    put(fields, "tool.name", name)
    put(fields, "gen_ai.tool.name", name)
    put(fields, "gen_ai.tool.call.id", as_text(attrs.get("call_id")))
    decision = as_text(attrs.get("decision"))
    put(fields, "approval.decision", decision)
    error = as_text(attrs.get("error_type"))
    args = parse_json_object(attrs.get("function_args"))
    action, key, operation = TOOLS.get(name, ("tool.invoked", "", None))
    server = as_text(attrs.get("mcp_server_name"))
    if attrs.get("tool_type") == "mcp" or (server and server != "None"):
        action = "mcp.tool_invoked"
        put(fields, "mcp.server", server)
        put(fields, "mcp.tool", name)
    value = args.get(key) if key else None
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    target = as_text(value)
    if action == "command.executed":
        put(fields, "command.command", target)
        put(fields, "tool.command", target)
        put(fields, "command.duration_ms", as_int(attrs.get("duration_ms")))
    elif action in ("file.modified", "file.read"):
        put(fields, "file.path", target)
        put(fields, "tool.path", target)
        put(fields, "file.operation", operation)
        if target:
            put(fields, "file.language", file_language(target))
    if (decision is not None and decision.lower() in DENIED_DECISIONS) or error in DENIED_ERRORS:
        put(fields, "approval.reason", error or decision)
        put(fields, "error.type", error)
        return "approval.denied", fields
    if as_bool(attrs.get("success")) is False:
        put(fields, "error.type", error or "failed")
        return "tool.failed", fields
    return action, fields


def _file_operation(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    operation = as_text(attrs.get("operation")) or ""
    action, name = FILE_OPERATIONS.get(operation, ("file.modified", operation))
    put(fields, "file.operation", name)
    put(fields, "tool.name", as_text(attrs.get("tool_name")))
    extension = as_text(attrs.get("extension"))
    if extension:
        put(fields, "file.language", file_language(f"file{extension}"))
    return action, fields


def _api_response(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    model = as_text(attrs.get("model"))
    put(fields, "model", model)
    put(fields, "gen_ai.response.model", model)
    put(fields, "gen_ai.provider.name", PROVIDER)
    put_token_counts(fields, attrs, TOKEN_COUNTS)
    put(fields, "rpc.response.status_code", as_text(attrs.get("status_code")))
    reasons = attrs.get("finish_reasons")
    if isinstance(reasons, list):
        texts = [reason for reason in reasons if isinstance(reason, str) and reason]
        if texts:
            fields.setdefault("gen_ai", {}).setdefault("response", {})["finish_reasons"] = texts
    return "session.activity", fields


def _api_request(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    model = as_text(attrs.get("model"))
    put(fields, "model", model)
    put(fields, "gen_ai.request.model", model)
    put(fields, "gen_ai.provider.name", PROVIDER)
    return "session.activity", fields


def _api_error(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    put(fields, "model", as_text(attrs.get("model")))
    error = as_text(attrs.get("error.type")) or as_text(attrs.get("error.message"))
    put(fields, "error.type", error or "api_error")
    put(fields, "rpc.response.status_code", as_text(attrs.get("status_code")))
    return "session.error", fields


def _user_prompt(attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    put(fields, "prompt.text", prompt_text(attrs))
    return "prompt.submitted", fields


EVENTS: Mapping[str, Callable[[Mapping[str, Any]], tuple[str, Fields]]] = {
    "user_prompt": _user_prompt,
    "tool_call": _tool_call,
    "file_operation": _file_operation,
    "api_request": _api_request,
    "api_response": _api_response,
    "api_error": _api_error,
}


def gemini_event(event_name: str, attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    """A ``gemini_cli.<name>`` log record (``event_name`` as sent, prefix included)."""
    name = event_name.removeprefix(EVENT_PREFIX)
    mapper = EVENTS.get(name)
    if mapper is not None:
        return mapper(attrs)
    if name in STATUS_EVENTS:
        return "session.status", {}
    fields: Fields = {}
    put(fields, "model", as_text(attrs.get("model")) or as_text(attrs.get("gen_ai.request.model")))
    return "session.activity", fields
