"""Golden tests: the recorded Claude Code runs normalize to the contract's actions.

The three captures (gRPC, HTTP/protobuf, HTTP/JSON) of one scripted run must
give the same lines once ids, timestamps and measured durations are removed
and metric points are summed per (metric name, attributes).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from beacon.pipeline.validate import validate_line

from .helpers import PROTOCOLS, fixture_requests, normalized, protected_lines

# Ids, clocks and measured durations differ between captures of the same run.
VOLATILE_KEYS = frozenset(
    {
        "timestamp",
        "trace",
        "session.id",
        "prompt.id",
        "tool_use_id",
        "request_id",
        "event.timestamp",
        "duration_ms",
        "ttft_ms",
        "time_to_first_chunk",
        "first_content_ms",
        "message.uuid",
        "gen_ai.conversation.id",
        "gen_ai.tool.call.id",
        "call",
        "gen_ai.response.id",
        "interaction.duration_ms",
        "user.id",
        "id",
    }
)
MEASURED_METRICS = frozenset({"claude_code.active_time.total"})


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in VOLATILE_KEYS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _canonical(lines: list[dict[str, Any]]) -> tuple[list[str], dict[str, float]]:
    events: list[str] = []
    metrics: dict[str, float] = {}
    for line in lines:
        if line["event"]["action"] == "metric.observed":
            attrs = _strip(line["raw"])
            key = orjson.dumps([line["metric"]["name"], attrs], option=orjson.OPT_SORT_KEYS)
            name = line["metric"]["name"]
            value = 0.0 if name in MEASURED_METRICS else line["metric"].get("value", 0.0)
            metrics[key.decode()] = metrics.get(key.decode(), 0.0) + value
        else:
            events.append(orjson.dumps(_strip(line), option=orjson.OPT_SORT_KEYS).decode())
    return sorted(events), {k: round(v, 9) for k, v in metrics.items()}


@pytest.fixture(scope="module")
def lines_by_protocol() -> dict[str, list[dict[str, Any]]]:
    return {protocol: protected_lines(fixture_requests(protocol)) for protocol in PROTOCOLS}


def test_three_protocols_give_the_same_lines(
    lines_by_protocol: dict[str, list[dict[str, Any]]],
) -> None:
    reference = _canonical(lines_by_protocol["http-json"])
    for protocol in ("grpc", "http-protobuf"):
        events, metrics = _canonical(lines_by_protocol[protocol])
        assert events == reference[0], protocol
        assert metrics == reference[1], protocol


def test_every_line_matches_the_schema(lines_by_protocol: dict[str, list[dict[str, Any]]]) -> None:
    for lines in lines_by_protocol.values():
        for line in lines:
            assert validate_line(line) is None, line


EXPECTED_EVENT_ACTIONS = {
    "claude_code.user_prompt": "prompt.submitted",
    "claude_code.tool_decision": "approval.allowed",
    "claude_code.api_request": "session.activity",
    "claude_code.assistant_response": "session.activity",
    "claude_code.tool_result": "command.executed",
    "claude_code.interaction": "session.activity",
    "claude_code.llm_request": "session.activity",
    "claude_code.tool": "command.executed",
    "claude_code.tool.blocked_on_user": "session.activity",
    "claude_code.tool.execution": "session.activity",
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_each_source_maps_to_its_action(protocol: str) -> None:
    lines = protected_lines(fixture_requests(protocol))
    seen = set()
    for line in lines:
        name = line["beacon"]["source"]["event_name"]
        action = line["event"]["action"]
        if line["beacon"]["source"]["signal"] == "metrics":
            assert action == "metric.observed"
            assert name.startswith("claude_code.")
            continue
        assert EXPECTED_EVENT_ACTIONS[name] == action, name
        assert line["harness"] == {"name": "claude_code", "version": "2.1.197"}
        assert line["event"]["category"] == action.split(".")[0]
        seen.add(name)
    assert seen == set(EXPECTED_EVENT_ACTIONS)


def test_bash_tool_result_carries_the_command() -> None:
    lines = protected_lines(fixture_requests("grpc"))
    (result,) = [
        line
        for line in lines
        if line["beacon"]["source"]["event_name"] == "claude_code.tool_result"
    ]
    assert result["command"]["command"] == "echo hi"
    assert isinstance(result["command"]["duration_ms"], int)
    assert result["tool"] == {"name": "Bash", "command": "echo hi"}
    assert result["severity"] == "low"
    assert result["session"]["id"]
    assert result["beacon"]["source"]["sequence"] == 4


def test_write_tool_run_yields_file_modified_with_its_path() -> None:
    lines = protected_lines(fixture_requests("http-protobuf", ".write-tool"))
    modified = [line for line in lines if line["event"]["action"] == "file.modified"]
    assert modified, [line["event"]["action"] for line in lines]
    for line in modified:
        assert line["file"]["path"] == "/home/runner/work/app/app/hello.txt"
        assert line["file"]["operation"] == "write"
        assert line["file"]["language"] == "text"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_api_request_carries_typed_usage_and_metrics_do_not(protocol: str) -> None:
    lines = protected_lines(fixture_requests(protocol))
    requests = [
        line
        for line in lines
        if line["beacon"]["source"]["event_name"] == "claude_code.api_request"
    ]
    assert len(requests) == 2
    for line in requests:
        usage = line["gen_ai"]["usage"]
        assert usage["input_tokens"] == 120 and type(usage["input_tokens"]) is int
        assert usage["output_tokens"] == 30 and type(usage["output_tokens"]) is int
        assert usage["cache_read"]["input_tokens"] == 0
        assert usage["cache_creation"]["input_tokens"] == 0
        assert usage["cost_usd"] == pytest.approx(0.00135) and type(usage["cost_usd"]) is float
        assert line["model"] == "claude-opus-4-8"
    carriers = [line for line in lines if "usage" in line.get("gen_ai", {})]
    assert carriers == requests


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metric_points_are_typed(protocol: str) -> None:
    lines = protected_lines(fixture_requests(protocol))
    points = [line for line in lines if line["event"]["action"] == "metric.observed"]
    token_types = set()
    for line in points:
        metric = line["metric"]
        assert type(metric["value"]) is float
        assert metric["kind"] == "sum"
        assert metric["temporality"] == "delta"
        if metric["name"] == "claude_code.token.usage":
            token_types.add(line["gen_ai"]["token"]["type"])
            assert metric["unit"] == "tokens"
    assert token_types == {"input", "output", "cacheRead", "cacheCreation"}
    cost = sum(
        p["metric"]["value"] for p in points if p["metric"]["name"] == "claude_code.cost.usage"
    )
    assert cost == pytest.approx(0.0027)


def test_spans_carry_trace_ids_and_durations() -> None:
    lines = normalized(fixture_requests("grpc"))
    spans = [line for line in lines if line["beacon"]["source"]["signal"] == "traces"]
    assert len(spans) == 6
    for line in spans:
        assert len(line["trace"]["id"]) == 32
        assert len(line["trace"]["span_id"]) == 16
        assert isinstance(line["beacon"]["duration_ms"], int)
    roots = [line for line in spans if "parent_span_id" not in line["trace"]]
    assert [line["beacon"]["source"]["event_name"] for line in roots] == ["claude_code.interaction"]
