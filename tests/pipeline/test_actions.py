"""The action table: Claude Code events, tools and beacon's lifecycle (docs/runtime-schema.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .helpers import log_request, protected_lines


def one_line(
    attributes: dict[str, Any], body: str = "claude_code.tool_result", **kwargs: Any
) -> dict[str, Any]:
    (line,) = protected_lines([log_request(attributes, body=body, **kwargs)])
    return line


@pytest.mark.parametrize(
    ("tool", "tool_input", "action", "fields"),
    [
        (
            "Bash",
            {"command": "ls -la"},
            "command.executed",
            {"command": {"command": "ls -la", "duration_ms": 12}},
        ),
        (
            "Write",
            {"file_path": "/w/a.py", "content": "x"},
            "file.modified",
            {"file": {"path": "/w/a.py", "operation": "write", "language": "python"}},
        ),
        (
            "Edit",
            {"file_path": "/w/b.ts"},
            "file.modified",
            {"file": {"path": "/w/b.ts", "operation": "edit", "language": "typescript"}},
        ),
        (
            "MultiEdit",
            {"file_path": "/w/c"},
            "file.modified",
            {"file": {"path": "/w/c", "operation": "edit"}},
        ),
        (
            "NotebookEdit",
            {"notebook_path": "/w/n.ipynb"},
            "file.modified",
            {"file": {"path": "/w/n.ipynb", "operation": "edit", "language": "jupyter"}},
        ),
        (
            "Read",
            {"file_path": "/w/r.md"},
            "file.read",
            {"file": {"path": "/w/r.md", "operation": "read", "language": "markdown"}},
        ),
        (
            "mcp__github__create_issue",
            {"title": "t"},
            "mcp.tool_invoked",
            {"mcp": {"server": "github", "tool": "create_issue"}},
        ),
        (
            "mcp__my_srv__do__it",
            {},
            "mcp.tool_invoked",
            {"mcp": {"server": "my_srv", "tool": "do__it"}},
        ),
        (
            "mcp_tool",
            {"mcp_server_name": "beacon", "mcp_tool_name": "echo"},
            "mcp.tool_invoked",
            {"mcp": {"server": "beacon", "tool": "echo"}},
        ),
        (
            "WebFetch",
            {"url": "https://example.com"},
            "tool.invoked",
            {"tool": {"name": "WebFetch"}},
        ),
    ],
)
def test_tool_results(
    tool: str, tool_input: dict[str, Any], action: str, fields: dict[str, Any]
) -> None:
    line = one_line(
        {
            "event.name": "tool_result",
            "tool_name": tool,
            "success": "true",
            "duration_ms": "12",
            "tool_input": json.dumps(tool_input),
        }
    )
    assert line["event"]["action"] == action
    for key, value in fields.items():
        for sub, expected in value.items():
            assert line[key][sub] == expected, (key, sub)
    assert line["tool"]["name"] == tool


def test_a_failed_tool_is_tool_failed_and_keeps_its_details() -> None:
    line = one_line(
        {
            "event.name": "tool_result",
            "tool_name": "Bash",
            "success": "false",
            "error": "Shell command failed",
            "error_type": "ShellError",
            "tool_parameters": json.dumps({"full_command": "false"}),
        }
    )
    assert line["event"]["action"] == "tool.failed"
    assert line["command"]["command"] == "false"
    assert line["error"]["type"] == "ShellError"
    assert line["severity"] == "medium"


@pytest.mark.parametrize(
    ("decision", "action"), [("accept", "approval.allowed"), ("reject", "approval.denied")]
)
def test_tool_decisions(decision: str, action: str) -> None:
    line = one_line(
        {
            "event.name": "tool_decision",
            "decision": decision,
            "source": "user_temporary",
            "tool_name": "Bash",
        },
        body="claude_code.tool_decision",
    )
    assert line["event"]["action"] == action
    assert line["approval"] == {"decision": decision, "reason": "user_temporary"}


@pytest.mark.parametrize(
    ("event", "action"),
    [
        ("api_error", "session.error"),
        ("api_retries_exhausted", "session.error"),
        ("internal_error", "session.error"),
        ("api_refusal", "session.status"),
        ("permission_mode_changed", "session.status"),
        ("mcp_server_connection", "mcp.connection"),
        ("compaction", "session.activity"),
        ("something_new", "session.activity"),
    ],
)
def test_other_claude_events(event: str, action: str) -> None:
    line = one_line(
        {"event.name": event, "status_code": 529, "error": "overloaded", "server_name": "github"},
        body=f"claude_code.{event}",
    )
    assert line["event"]["action"] == action
    if action == "session.error":
        assert line["error"]["type"] == "overloaded"
        assert line["rpc"]["response"]["status_code"] == "529"
    if action == "mcp.connection":
        assert line["mcp"]["server"] == "github"


def test_claude_is_recognised_by_scope_even_under_another_service_name() -> None:
    line = one_line(
        {"event.name": "user_prompt", "prompt": "hello"},
        body="claude_code.user_prompt",
        resource={"service.name": "my-agent", "service.version": "2.1.197"},
    )
    assert line["harness"] == {"name": "claude_code", "version": "2.1.197"}
    assert line["event"]["action"] == "prompt.submitted"
    assert line["prompt"]["text"] == "hello"


def test_claude_is_recognised_by_event_prefix_under_another_scope() -> None:
    line = one_line(
        {"event.name": "user_prompt", "prompt": "<REDACTED>"},
        body="claude_code.user_prompt",
        scope="x",
    )
    assert line["harness"]["name"] == "claude_code"
    assert "prompt" not in line  # the client withheld the text


def test_generic_otel_records_are_kept_as_activity() -> None:
    line = one_line(
        {"http.method": "GET"},
        body="request served",
        scope="my.lib",
        resource={"service.name": "svc"},
    )
    assert line["harness"] == {"name": "otel", "version": "unknown"}
    assert line["event"]["action"] == "session.activity"
    assert line["raw"] == {"http.method": "GET", "body": "request served"}


def test_string_encoded_numbers_get_fixed_types() -> None:
    line = one_line(
        {
            "event.name": "api_request",
            "model": "m",
            "input_tokens": "10",
            "output_tokens": 5,
            "cache_read_tokens": "0",
            "cache_creation_tokens": 0,
            "cost_usd": "0.5",
        },
        body="claude_code.api_request",
    )
    assert line["gen_ai"]["usage"] == {
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": 0.5,
        "cache_read": {"input_tokens": 0},
        "cache_creation": {"input_tokens": 0},
    }


def test_a_child_exiting_non_zero_is_medium() -> None:
    line = one_line(
        {"event.name": "child.exited", "exit_code": 2, "duration_ms": 10},
        body="beacon.child.exited",
        scope="beacon",
        resource={"service.name": "beacon", "service.version": "0.1.0"},
    )
    assert line["event"]["action"] == "session.activity"
    assert line["command"]["exit_code"] == 2
    assert line["severity"] == "medium"
    assert line["harness"] == {"name": "beacon", "version": "0.1.0"}


def test_a_line_that_carried_a_secret_is_high() -> None:
    line = one_line(
        {
            "event.name": "tool_result",
            "tool_name": "Read",
            "tool_input": json.dumps({"file_path": "/x"}),
            "note": "AKIA" + "B" * 16,
        }
    )
    assert line["severity"] == "high"
    assert line["content"]["redacted"] is True
    assert line["beacon"]["redactions"] == {"aws_access_key": 1}


def test_names_chosen_by_the_client_are_redacted_too() -> None:
    token = "ghp_" + "Qq7" * 12
    line = one_line({"event.name": f"custom {token}"}, body=f"claude_code.custom {token}")
    text = json.dumps(line)
    assert token not in text
    assert line["beacon"]["source"]["event_name"] == "claude_code.custom [REDACTED:github_token]"
