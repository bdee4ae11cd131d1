"""Codex CLI records (shaped as measured on 0.171.0: docs/codex-cli.md) become actions.

No recording of the real client is in the repository yet: these records follow the fact
sheet (event name in ``event.name``, empty body, ``timeUnixNano`` 0, numbers as strings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from beacon.pipeline import PipelineOptions
from beacon.pipeline.content import withheld_attributes
from beacon.pipeline.validate import validate_line

from .helpers import protected_lines

SCOPE = "codex_otel.log_only"
RESOURCE = {"service.name": "codex_exec", "service.version": "0.171.0", "env": "ci"}
COMMON = {
    "conversation.id": "0199-conv",
    "model": "gpt-5-codex",
    "app.version": "0.171.0",
    "originator": "codex_exec",
}
OBSERVED = "1796614231658000000"
PATCH = (
    "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: notes.txt\n+alpha\n"
    "*** Update File: src/app.py\n@@\n-a\n+b\n*** End Patch\nEOF\n"
)


def kv(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    return {"stringValue": str(value)}


def codex_request(*records: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    log_records = [
        {
            "timeUnixNano": "0",
            "observedTimeUnixNano": OBSERVED,
            "eventName": "codex_otel::otel_event_manager:123",
            "attributes": [{"key": k, "value": kv(v)} for k, v in {**COMMON, **attrs}.items()],
        }
        for attrs in records
    ]
    return "logs", {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": k, "value": kv(v)} for k, v in RESOURCE.items()]
                },
                "scopeLogs": [{"scope": {"name": SCOPE}, "logRecords": log_records}],
            }
        ]
    }


def lines_for(*records: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    opts = PipelineOptions(session_id="run-1", log_path=Path("unused"), **options)
    return protected_lines([codex_request(*records)], opts)


def test_a_turn_maps_to_actions() -> None:
    lines = lines_for(
        {"event.name": "codex.conversation_starts", "provider_name": "stub"},
        {"event.name": "codex.user_prompt", "prompt": "run echo hi", "prompt_length": "11"},
        {
            "event.name": "codex.tool_decision",
            "tool_name": "exec_command",
            "call_id": "call_1",
            "decision": "approved",
            "source": "config",
        },
        {
            "event.name": "codex.tool_result",
            "tool_name": "exec_command",
            "call_id": "call_1",
            "duration_ms": "12",
            "success": "true",
            "arguments": json.dumps({"cmd": "echo hi"}),
            "output": "Process exited with code 0\nOutput:\nhi\n",
        },
        {
            "event.name": "codex.tool_result",
            "tool_name": "exec_command",
            "call_id": "call_2",
            "success": "true",
            "arguments": json.dumps({"cmd": PATCH}),
            "output": "Success. Updated the following files:\nA notes.txt\nM src/app.py\n",
        },
        {"event.name": "codex.api_request", "http.response.status_code": "200", "attempt": "1"},
        {
            "event.name": "codex.sse_event",
            "event.kind": "response.completed",
            "input_token_count": "1200",
            "output_token_count": "40",
            "cached_token_count": "1000",
            "reasoning_token_count": "8",
            "tool_token_count": "1248",
            "ttft_ms": "150",
        },
        {"event.name": "codex.api_request", "http.response.status_code": "500"},
    )
    actions = [line["event"]["action"] for line in lines]
    assert actions == [
        "session.status",
        "prompt.submitted",
        "approval.allowed",
        "command.executed",
        "file.modified",
        "session.activity",
        "session.activity",
        "session.error",
    ]
    for line in lines:
        assert validate_line(line) is None, line
        assert line["harness"] == {"name": "codex_cli", "version": "0.171.0"}
        assert line["timestamp"] == "2026-12-07T03:30:31.658Z"  # observed: timeUnixNano is 0
        assert line["session"]["id"] == "0199-conv"
    assert lines[1]["prompt"]["text"] == "run echo hi"
    command = lines[3]
    assert command["command"] == {"command": "echo hi", "duration_ms": 12, "exit_code": 0}
    assert command["severity"] == "low"
    patch = lines[4]
    assert patch["file"] == {"path": "notes.txt", "operation": "create", "language": "text"}
    usage = lines[6]["gen_ai"]["usage"]
    assert usage == {
        "input_tokens": 1200,
        "output_tokens": 40,
        "cache_read": {"input_tokens": 1000},
        "reasoning": {"output_tokens": 8},
    }
    assert lines[6]["gen_ai"]["response"]["time_to_first_chunk"] == 0.15
    assert all("cost_usd" not in line.get("gen_ai", {}).get("usage", {}) for line in lines)
    assert lines[7]["rpc"]["response"]["status_code"] == "500"


def test_redacted_prompt_and_apply_patch_tool() -> None:
    prompt, patch = lines_for(
        {"event.name": "codex.user_prompt", "prompt": "[REDACTED]"},
        {
            "event.name": "codex.tool_result",
            "tool_name": "apply_patch",
            "success": "false",
            "arguments": json.dumps({"input": PATCH}),
        },
    )
    assert "prompt" not in prompt
    assert patch["event"]["action"] == "tool.failed"
    assert patch["file"]["path"] == "notes.txt"


def test_no_prompts_and_no_tool_details_withhold_codex_content() -> None:
    withheld = withheld_attributes(prompts=False, tool_details=False)
    prompt, result = lines_for(
        {"event.name": "codex.user_prompt", "prompt": "secret plan", "prompt_length": "11"},
        {
            "event.name": "codex.tool_result",
            "tool_name": "exec_command",
            "arguments": json.dumps({"cmd": "cat plan.txt"}),
            "output": "the plan",
        },
        withheld=withheld,
    )
    text = json.dumps([prompt, result])
    assert "secret plan" not in text and "cat plan.txt" not in text and "the plan" not in text
    assert result["event"]["action"] == "command.executed"


def test_internal_spans_are_skipped_usage_spans_kept() -> None:
    spans = [
        {"name": name, "traceId": "0" * 31 + "1", "spanId": f"{i + 1:016x}"}
        for i, name in enumerate(
            ["fs.read", "handle_responses", "sqlite.query", "session_task.turn"]
        )
    ]
    request = (
        "traces",
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "codex_exec"}}
                        ]
                    },
                    "scopeSpans": [{"scope": {"name": "codex_otel"}, "spans": spans}],
                }
            ]
        },
    )
    lines = protected_lines([request])
    assert [line["beacon"]["source"]["event_name"] for line in lines] == [
        "handle_responses",
        "session_task.turn",
    ]


RECORDING = Path(__file__).resolve().parents[1] / "fixtures" / "codex-cli-0.171.0"


def recorded_lines(**options: Any) -> list[dict[str, Any]]:
    spool = RECORDING / "spool.http-protobuf.jsonl"
    requests = [("", json.loads(line)) for line in spool.read_text().splitlines()]
    opts = PipelineOptions(session_id="run-1", log_path=Path("unused"), **options)
    return protected_lines(requests, opts)


def test_recorded_run_gives_every_expected_action() -> None:
    lines = recorded_lines()
    for line in lines:
        assert validate_line(line) is None, line
        assert line["harness"]["name"] == "codex_cli"
        assert line["harness"]["version"] == "0.171.0"
        assert not line["timestamp"].startswith("1970")
    logs = [line for line in lines if line["beacon"]["source"]["signal"] == "logs"]
    actions = [line["event"]["action"] for line in logs]
    assert actions.count("prompt.submitted") == 1
    assert actions.count("approval.allowed") == 2
    (command,) = [line for line in logs if line["event"]["action"] == "command.executed"]
    assert command["command"]["command"] == "echo hi"
    assert command["command"]["exit_code"] == 0
    (patch,) = [line for line in logs if line["event"]["action"] == "file.modified"]
    assert patch["file"]["path"] == "notes.txt"
    assert patch["file"]["operation"] == "create"
    usage = [line["gen_ai"]["usage"] for line in lines if "usage" in line.get("gen_ai", {})]
    assert [(u["input_tokens"], u["output_tokens"]) for u in usage] == [(1200, 40)] * 3
    assert all("cost_usd" not in u for u in usage)
    spans = {
        line["beacon"]["source"]["event_name"]
        for line in lines
        if line["beacon"]["source"]["signal"] == "traces"
    }
    assert spans == {"handle_responses", "session_task.turn"}
