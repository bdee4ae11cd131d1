"""Gemini CLI 0.61.0 recording (tests/fixtures/gemini-cli-0.61.0): its events become actions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from beacon.pipeline import PipelineOptions
from beacon.pipeline.content import withheld_attributes
from beacon.pipeline.validate import validate_line

from .helpers import FIXTURES, log_request, protected_lines

SPOOL = FIXTURES / "gemini-cli-0.61.0" / "spool.http-json.jsonl"
PROMPT = "Run echo hi and write notes.txt"


def requests() -> list[tuple[str, dict[str, Any]]]:
    return [("", orjson.loads(line)) for line in SPOOL.read_bytes().splitlines()]


def lines_of(**options: Any) -> list[dict[str, Any]]:
    return protected_lines(
        requests(), PipelineOptions(session_id="run-1", log_path=Path("unused"), **options)
    )


def by_name(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["beacon"]["source"].get("event_name") == name]


def test_every_line_is_gemini_and_valid() -> None:
    lines = lines_of()
    assert len(lines) > 40
    for line in lines:
        assert validate_line(line) is None, line
        # service.version is the Node version: the CLI's own is unknown.
        assert line["harness"] == {"name": "gemini_cli", "version": "unknown"}, line


def test_events_map_to_actions() -> None:
    logs = [line for line in lines_of() if line["beacon"]["source"]["signal"] == "logs"]
    actions = Counter(line["event"]["action"] for line in logs)
    assert actions["prompt.submitted"] == 1
    assert actions["command.executed"] == 1
    assert actions["file.modified"] == 2  # tool_call write_file + file_operation create
    (prompt,) = [line for line in logs if line["event"]["action"] == "prompt.submitted"]
    assert prompt["prompt"]["text"] == PROMPT
    (command,) = [line for line in logs if line["event"]["action"] == "command.executed"]
    assert command["command"]["command"] == "echo hi"
    assert command["approval"]["decision"] == "accept"
    assert command["severity"] == "low"
    (write,) = by_name(logs, "gemini_cli.tool_call")[1:]
    assert write["file"]["path"].endswith("/work/notes.txt")
    assert write["file"]["operation"] == "write"
    (created,) = by_name(logs, "gemini_cli.file_operation")
    assert created["file"] == {"operation": "create", "language": "text"}
    (config,) = by_name(logs, "gemini_cli.config")
    assert config["event"]["action"] == "session.status"


def test_api_responses_carry_tokens_and_never_cost() -> None:
    lines = lines_of()
    responses = by_name(lines, "gemini_cli.api_response")
    assert len(responses) == 4
    for line in responses:
        usage = line["gen_ai"]["usage"]
        assert (usage["input_tokens"], usage["output_tokens"]) == (100, 20)
        assert usage["cache_read"]["input_tokens"] == 0
        assert "cost_usd" not in usage
        assert line["rpc"]["response"]["status_code"] == "200"
    carriers = [line for line in lines if "usage" in line.get("gen_ai", {})]
    assert carriers == responses
    assert not any("cost_usd" in str(line.get("gen_ai")) for line in lines)


def test_metrics_are_cumulative_with_token_types() -> None:
    points = [line for line in lines_of() if line["event"]["action"] == "metric.observed"]
    assert points
    sums = [line for line in points if line["metric"]["kind"] == "sum"]
    assert {line["metric"]["temporality"] for line in sums} == {"cumulative"}
    token_types = {
        line["gen_ai"]["token"]["type"]
        for line in points
        if line["metric"]["name"] == "gemini_cli.token.usage"
    }
    assert {"input", "output"} <= token_types


def test_spans_are_activity_with_gen_ai_fields() -> None:
    spans = [line for line in lines_of() if line["beacon"]["source"]["signal"] == "traces"]
    assert Counter(line["beacon"]["source"]["event_name"] for line in spans) == Counter(
        {"llm_call": 4, "tool_call": 2, "schedule_tool_calls": 2}
    )
    assert {line["event"]["action"] for line in spans} == {"session.activity"}


def test_no_prompts_removes_the_prompt_from_every_line() -> None:
    withheld = withheld_attributes(prompts=False, tool_details=True)
    lines = lines_of(withheld=withheld)
    assert PROMPT not in orjson.dumps(lines).decode()
    (prompt,) = [line for line in lines if line["event"]["action"] == "prompt.submitted"]
    assert "prompt" not in prompt
    assert int(prompt["raw"]["prompt_length"]) == len(PROMPT)


def test_empty_any_value_and_a_denied_call() -> None:
    request = log_request(
        {
            "event.name": "gemini_cli.tool_call",
            "function_name": "run_shell_command",
            "function_args": '{"command": "rm -rf /"}',
            "success": "false",
            "error_type": "policy_violation",
        },
        body="Tool call: run_shell_command.",
        scope="gemini-cli",
    )
    record = request[1]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["attributes"].append({"key": "decision", "value": {}})
    (line,) = protected_lines([request])
    assert line["event"]["action"] == "approval.denied"
    assert line["approval"] == {"reason": "policy_violation"}
    assert line["command"]["command"] == "rm -rf /"
    assert validate_line(line) is None
