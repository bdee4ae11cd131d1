"""Which runtime action a source record becomes, and the fields it fills (pure).

The mapping is the contract's table (docs/runtime-schema.md). Functions take
decoded attributes (plain dicts) and return ``(action, fields)`` where
``fields`` is a nested dict of 1.0 fields; nothing here raises on odd input.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from beacon.pipeline.decode import as_bool, as_float, as_int

Fields = dict[str, Any]

FILE_WRITE_TOOLS = {"Edit": "edit", "Write": "write", "MultiEdit": "edit", "NotebookEdit": "edit"}
FILE_READ_TOOLS = frozenset({"Read"})
SHELL_TOOLS = frozenset({"Bash"})
MCP_EVENT_TOOL_NAME = "mcp_tool"
ALLOW_DECISIONS = frozenset({"accept", "allow", "allowed", "approved", "approve", "yes"})
ERROR_EVENTS = frozenset({"api_error", "api_retries_exhausted", "internal_error"})
STATUS_EVENTS = frozenset({"api_refusal", "permission_mode_changed"})
REDACTED_VALUES = frozenset({"<REDACTED>", "[REDACTED]"})
# The attributes a prompt arrives in, first found wins (2.1.332 sends it twice: `prompt` and
# `prompt_text`; older versions only `prompt`).
PROMPT_ATTRIBUTES = ("prompt", "prompt_text")
# Span attribute -> 1.0 field, copied as strings wherever a span carries them (Claude Code
# 2.1.332 follows the GenAI semantic conventions on its spans).
GEN_AI_SPAN_FIELDS: Mapping[str, str] = {
    "gen_ai.conversation.id": "gen_ai.conversation.id",
    "gen_ai.operation.name": "gen_ai.operation.name",
    "gen_ai.response.model": "gen_ai.response.model",
    "gen_ai.response.id": "gen_ai.response.id",
    "gen_ai.tool.call.id": "gen_ai.tool.call.id",
}

# Severity per action (docs/runtime-schema.md#severity). Lines that carried a secret are
# raised to at least "high" by the pipeline; a child exiting non-zero is "medium".
SEVERITY: Mapping[str, str] = {
    "command.executed": "low",
    "file.modified": "low",
    "mcp.tool_invoked": "low",
    "approval.denied": "medium",
    "tool.failed": "medium",
    "session.error": "medium",
}
SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")

_LANGUAGES = {
    "py": "python",
    "js": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "ts": "typescript",
    "tsx": "typescript",
    "jsx": "javascript",
    "go": "go",
    "rs": "rust",
    "java": "java",
    "kt": "kotlin",
    "rb": "ruby",
    "php": "php",
    "c": "c",
    "h": "c",
    "cc": "cpp",
    "cpp": "cpp",
    "hpp": "cpp",
    "cs": "csharp",
    "swift": "swift",
    "sh": "shell",
    "bash": "shell",
    "md": "markdown",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "html": "html",
    "css": "css",
    "sql": "sql",
    "txt": "text",
    "ipynb": "jupyter",
}


def severity_for(action: str) -> str:
    return SEVERITY.get(action, "info")


def raise_severity(current: str, at_least: str) -> str:
    rank = SEVERITY_ORDER.index
    return at_least if rank(at_least) > rank(current) else current


def put(fields: Fields, dotted: str, value: Any) -> None:
    """Set a nested field; absent values (None, "") are never written."""
    # A few calls per record: written for the interpreter (one dict lookup for the split
    # name, no comparison of a number with "").
    if value is None or (isinstance(value, str) and not value):
        return
    path = _PATHS.get(dotted)
    if path is None:
        path = _path(dotted)
    node = fields
    for part in path[0]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[1]] = value


def put_token_counts(fields: Fields, attrs: Mapping[str, Any], names: Mapping[str, str]) -> None:
    """``gen_ai.usage.*`` from a harness's own token-count attributes.

    ``names``: runtime field -> the harness's attribute, in the order the fields are written.
    """
    for field, attribute in names.items():
        put(fields, field, as_int(attrs.get(attribute)))


# The dotted names are the modules' constants: a few dozen, each split once.
_PATHS: dict[str, tuple[tuple[str, ...], str]] = {}


def _path(dotted: str) -> tuple[tuple[str, ...], str]:
    *parents, name = dotted.split(".")
    path = (tuple(parents), name)
    if len(_PATHS) < 1024:
        _PATHS[dotted] = path
    return path


def as_text(value: Any) -> str | None:
    """A scalar attribute as text (bools as ``true``/``false``); None for anything else."""
    return _str(value)


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def parse_json_object(value: Any) -> dict[str, Any]:
    """A JSON-encoded attribute (``tool_parameters``, ``tool_input``) as a dict, or {}."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return {}
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def file_language(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        return None
    return _LANGUAGES.get(name.rsplit(".", 1)[-1].lower())


def tool_fields(
    tool_name: str | None, details: Mapping[str, Any], success: bool | None
) -> tuple[str, Fields]:
    """Action and fields of one tool use. ``details``: tool parameters and input merged."""
    fields: Fields = {}
    name = tool_name or "unknown"
    put(fields, "tool.name", name)
    put(fields, "gen_ai.tool.name", name)
    if name in SHELL_TOOLS:
        command = _str(details.get("full_command")) or _str(details.get("command"))
        command = command or _str(details.get("bash_command"))
        put(fields, "command.command", command)
        put(fields, "tool.command", command)
        action = "command.executed"
    elif name in FILE_WRITE_TOOLS or name in FILE_READ_TOOLS:
        path = _str(details.get("file_path")) or _str(details.get("notebook_path"))
        path = path or _str(details.get("path"))
        put(fields, "file.path", path)
        put(fields, "tool.path", path)
        if path:
            put(fields, "file.language", file_language(path))
        if name in FILE_WRITE_TOOLS:
            put(fields, "file.operation", FILE_WRITE_TOOLS[name])
            action = "file.modified"
        else:
            put(fields, "file.operation", "read")
            action = "file.read"
    elif name.startswith("mcp__"):
        _, _, rest = name.partition("mcp__")
        server, _, tool = rest.partition("__")
        put(fields, "mcp.server", server)
        put(fields, "mcp.tool", tool)
        action = "mcp.tool_invoked"
    elif name == MCP_EVENT_TOOL_NAME or "mcp_server_name" in details:
        # Events name every MCP tool "mcp_tool" and put server and tool into
        # tool_parameters; only the span uses mcp__<server>__<tool>.
        put(fields, "mcp.server", _str(details.get("mcp_server_name")))
        put(fields, "mcp.tool", _str(details.get("mcp_tool_name")))
        action = "mcp.tool_invoked"
    else:
        action = "tool.invoked"
    if success is False:
        action = "tool.failed"
    return action, fields


def _tool_details(attrs: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    details.update(parse_json_object(attrs.get("tool_input")))
    details.update(parse_json_object(attrs.get("tool_parameters")))
    for key in ("full_command", "file_path", "command"):
        if key in attrs and key not in details:
            details[key] = attrs[key]
    return details


def _usage_fields(attrs: Mapping[str, Any]) -> Fields:
    fields: Fields = {}
    put(fields, "gen_ai.usage.input_tokens", as_int(attrs.get("input_tokens")))
    put(fields, "gen_ai.usage.output_tokens", as_int(attrs.get("output_tokens")))
    put(fields, "gen_ai.usage.cache_read.input_tokens", as_int(attrs.get("cache_read_tokens")))
    put(fields, "gen_ai.usage.cache_creation.input_tokens", cache_creation_tokens(attrs))
    put(fields, "gen_ai.usage.cost_usd", as_float(attrs.get("cost_usd")))
    return fields


def cache_creation_tokens(attrs: Mapping[str, Any]) -> int | None:
    """The cache-creation count: ``cache_creation_tokens``, or the sum of the 5-minute and
    1-hour split (2.1.332) when that is larger; the split itself stays in ``raw``."""
    total = as_int(attrs.get("cache_creation_tokens"))
    parts = [as_int(attrs.get(name)) for name in CACHE_CREATION_SPLIT]
    if all(part is None for part in parts):
        return total
    split = sum(part or 0 for part in parts)
    return split if total is None else max(total, split)


CACHE_CREATION_SPLIT = ("cache_creation_5m_tokens", "cache_creation_1h_tokens")


def _merge(into: Fields, other: Fields) -> Fields:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def claude_event(event_name: str, attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    """A ``claude_code.<event_name>`` log record."""
    fields: Fields = {}
    if event_name == "user_prompt":
        put(fields, "prompt.text", prompt_text(attrs))
        return "prompt.submitted", fields
    if event_name == "tool_result":
        action, fields = tool_fields(
            _str(attrs.get("tool_name")), _tool_details(attrs), as_bool(attrs.get("success"))
        )
        duration = as_int(attrs.get("duration_ms"))
        if action == "command.executed" or "command" in fields:
            put(fields, "command.duration_ms", duration)
        put(fields, "gen_ai.tool.call.id", _str(attrs.get("tool_use_id")))
        put(fields, "error.type", _str(attrs.get("error_type")) or _str(attrs.get("error")))
        return action, fields
    if event_name == "tool_decision":
        decision = _str(attrs.get("decision"))
        allowed = decision is not None and decision.lower() in ALLOW_DECISIONS
        put(fields, "approval.decision", decision)
        put(fields, "approval.reason", _str(attrs.get("source")))
        tool_name = _str(attrs.get("tool_name"))
        put(fields, "tool.name", tool_name)
        put(fields, "gen_ai.tool.name", tool_name)
        put(fields, "gen_ai.tool.call.id", _str(attrs.get("tool_use_id")))
        return ("approval.allowed" if allowed else "approval.denied"), fields
    if event_name == "api_request":
        model = _str(attrs.get("model"))
        put(fields, "model", model)
        put(fields, "gen_ai.request.model", model)
        put(fields, "gen_ai.provider.name", "anthropic")
        put(fields, "gen_ai.response.id", _str(attrs.get("request_id")))
        put(fields, "gen_ai.response.time_to_first_chunk", _seconds(attrs.get("ttft_ms")))
        return "session.activity", _merge(fields, _usage_fields(attrs))
    if event_name in ERROR_EVENTS:
        put(fields, "model", _str(attrs.get("model")))
        put(fields, "error.type", _str(attrs.get("error")) or event_name)
        put(fields, "rpc.response.status_code", _str(attrs.get("status_code")))
        return "session.error", fields
    if event_name in STATUS_EVENTS:
        return "session.status", fields
    if event_name in STARTUP_EVENTS:
        return "session.status", {"message": STARTUP_EVENTS[event_name](attrs)}
    if event_name == "mcp_server_connection":
        server = attrs.get("server_name") or attrs.get("mcp_server_name") or attrs.get("server")
        put(fields, "mcp.server", _str(server))
        return "mcp.connection", fields
    put(fields, "model", _str(attrs.get("model")))
    return "session.activity", fields


def claude_span(span_type: str, attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    """A Claude Code span, by its ``span.type`` (``tool``, ``llm_request``, ...)."""
    action, fields = _claude_span_action(span_type, attrs)
    return action, _merge(gen_ai_span_fields(attrs), fields)


def gen_ai_span_fields(attrs: Mapping[str, Any]) -> Fields:
    """The GenAI semantic-convention attributes of a span that the 1.0 schema has fields for.

    Span token counts (``gen_ai.usage.*``) are left in ``raw``: the same request's
    ``api_request`` event carries them, and summing ``gen_ai.usage`` over a file must count
    each request once.
    """
    fields: Fields = {}
    for attribute, dotted in GEN_AI_SPAN_FIELDS.items():
        put(fields, dotted, _str(attrs.get(attribute)))
    put(
        fields,
        "gen_ai.provider.name",
        _str(attrs.get("gen_ai.provider.name")) or _str(attrs.get("gen_ai.system")),
    )
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, list):
        texts = [reason for reason in reasons if isinstance(reason, str) and reason]
        if texts:
            fields.setdefault("gen_ai", {}).setdefault("response", {})["finish_reasons"] = texts
    return fields


def _claude_span_action(span_type: str, attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    fields: Fields = {}
    if span_type == "tool":
        action, fields = tool_fields(
            _str(attrs.get("tool_name")), _tool_details(attrs), as_bool(attrs.get("success"))
        )
        if action == "command.executed":
            put(fields, "command.duration_ms", as_int(attrs.get("duration_ms")))
        put(fields, "gen_ai.tool.call.id", _str(attrs.get("gen_ai.tool.call.id")))
        return action, fields
    if span_type == "llm_request":
        model = _str(attrs.get("model")) or _str(attrs.get("gen_ai.request.model"))
        put(fields, "model", model)
        put(fields, "gen_ai.request.model", _str(attrs.get("gen_ai.request.model")) or model)
        put(fields, "gen_ai.response.time_to_first_chunk", _seconds(attrs.get("ttft_ms")))
        return "session.activity", fields
    return "session.activity", fields


def repository_from_vcs(attrs: Mapping[str, Any]) -> str | None:
    """``owner/name`` from the OTel ``vcs.*`` attributes (the URL's path, never its host or
    credentials, when only the URL came)."""
    owner = _str(attrs.get("vcs.owner.name"))
    name = _str(attrs.get("vcs.repository.name"))
    if owner and name:
        return f"{owner}/{name}"
    url = _str(attrs.get("vcs.repository.url.full"))
    if url:
        path = urlsplit(url).path if "://" in url else url.rsplit(":", 1)[-1]
        path = path.strip("/").removesuffix(".git")
        if path:
            return path
    return name


def prompt_text(attrs: Mapping[str, Any]) -> str | None:
    """The prompt when the client captured it (not its ``<REDACTED>`` placeholder)."""
    for name in PROMPT_ATTRIBUTES:
        value = attrs.get(name)
        if isinstance(value, str) and value and value not in REDACTED_VALUES:
            return value
    return None


def _seconds(milliseconds: Any) -> float | None:
    value = as_float(milliseconds)
    return None if value is None else value / 1000.0


def _flag(value: Any) -> bool:
    return as_bool(value) is True


def _plugin_loaded(attrs: Mapping[str, Any]) -> str:
    """``plugin loaded: <name> from <marketplace> (<scope>, via <how>; hooks, mcp)``."""
    name = _str(attrs.get("plugin.name")) or "unnamed plugin"
    details = [
        _str(attrs.get("plugin.scope")),
        f"via {attrs['enabled_via']}" if _str(attrs.get("enabled_via")) else None,
    ]
    parts = [part for part in ("hooks", "mcp") if _flag(attrs.get(f"has_{part}"))]
    if _flag(attrs.get("safe_mode")):
        parts.append("safe mode")
    described = ", ".join(part for part in details if part)
    if parts:
        described = f"{described}; {', '.join(parts)}" if described else ", ".join(parts)
    marketplace = _str(attrs.get("marketplace.name"))
    text = f"plugin loaded: {name}" + (f" from {marketplace}" if marketplace else "")
    return f"{text} ({described})" if described else text


def _managed_settings(attrs: Mapping[str, Any]) -> str:
    """``managed settings resolved (<trigger>): sources <...>, <behaviour>, helper <state>``."""
    trigger = _str(attrs.get("managed_settings.trigger")) or "unknown trigger"
    sources = attrs.get("managed_settings.sources")
    if isinstance(sources, list):
        listed = ", ".join(str(item) for item in sources if item not in (None, "")) or "none"
    else:
        listed = _str(sources) or "none"
    parts = [f"sources {listed}"]
    behaviour = _str(attrs.get("managed_settings.source_behavior"))
    if behaviour:
        parts.append(behaviour)
    helper = _str(attrs.get("managed_settings.helper.state"))
    if helper:
        applied = _str(attrs.get("managed_settings.helper.applied"))
        parts.append(f"helper {helper}" + (f" (applied {applied})" if applied else ""))
    return f"managed settings resolved ({trigger}): {'; '.join(parts)}"


def _retention_sweep(attrs: Mapping[str, Any]) -> str:
    """``retention sweep <result>: N transcripts, N session files deleted (<days> days)``."""
    result = _str(attrs.get("result")) or "done"
    deleted = [
        f"{as_int(attrs.get(key)) or 0} {label}"
        for key, label in (
            ("transcripts_deleted", "transcripts"),
            ("session_files_deleted", "session files"),
            ("artifacts_deleted", "artifacts"),
        )
    ]
    days = _str(attrs.get("period_days"))
    text = f"retention sweep {result}: {', '.join(deleted)} deleted"
    return f"{text} ({days}-day retention)" if days else text


# Housekeeping events of 2.1.332 (start-up, and a background sweep of old transcripts that
# comes in some runs only): kept with their session as `session.status`, described by what
# was in force or done rather than counted as anonymous activity.
STARTUP_EVENTS: Mapping[str, Callable[[Mapping[str, Any]], str]] = {
    "plugin_loaded": _plugin_loaded,
    "managed_settings_resolved": _managed_settings,
    "retention_sweep": _retention_sweep,
}


LIFECYCLE_ACTIONS: Mapping[str, str] = {
    "collector.started": "session.started",
    "collector.stopped": "session.ended",
}


def lifecycle_event(event_name: str, attrs: Mapping[str, Any]) -> tuple[str, Fields]:
    """One of beacon's own records (scope ``beacon``)."""
    fields: Fields = {}
    if event_name == "child.started":
        command = attrs.get("command")
        argv = command if isinstance(command, list) else _json_list(command)
        if argv:
            put(fields, "command.command", shlex.join(str(part) for part in argv))
        elif isinstance(command, str):
            put(fields, "command.command", command)
    elif event_name == "child.exited":
        put(fields, "command.exit_code", as_int(attrs.get("exit_code")))
        put(fields, "command.duration_ms", as_int(attrs.get("duration_ms")))
    return LIFECYCLE_ACTIONS.get(event_name, "session.activity"), fields


def _json_list(value: Any) -> list[Any]:
    if not isinstance(value, str) or not value.lstrip().startswith("["):
        return []
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return []
    return parsed if isinstance(parsed, list) else []
