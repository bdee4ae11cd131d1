"""Assertions that a capture holds exactly what a scripted Claude Code run must export."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from e2e.otlp_view import Capture, LogRow
from e2e.scenarios import Expectation, Scenario, scripted

EVENTS_SCOPE = "com.anthropic.claude_code.events"
METRICS_SCOPE = "com.anthropic.claude_code"
TRACES_SCOPE = "com.anthropic.claude_code.tracing"
METRIC_PREFIX = "claude_code."


def claude_events(capture: Capture) -> list[LogRow]:
    """Claude's events in ``event.sequence`` order."""
    rows = [row for row in capture.logs if row.scope == EVENTS_SCOPE]
    return sorted(rows, key=lambda row: int(row.attributes.get("event.sequence", -1)))


def sequence_gaps(events: list[LogRow]) -> list[int]:
    """Missing ``event.sequence`` numbers per Claude session (they start at 0)."""
    missing: list[int] = []
    by_session: dict[Any, list[int]] = {}
    for row in events:
        by_session.setdefault(row.attributes.get("session.id"), []).append(
            int(row.attributes["event.sequence"])
        )
    for numbers in by_session.values():
        missing += sorted(set(range(max(numbers) + 1)) - set(numbers))
    return missing


def metric_total(capture: Capture, name: str, **attributes: Any) -> float:
    return sum(
        point.value
        for point in capture.metrics
        if point.name == METRIC_PREFIX + name
        and all(point.attributes.get(key) == value for key, value in attributes.items())
    )


def _describe(capture: Capture) -> str:
    return "\n".join(
        f"  {row.attributes.get('event.sequence')} {row.event_name}"
        for row in claude_events(capture)
    )


def check_events(capture: Capture, scenario: Scenario, expected: Expectation) -> None:
    events = claude_events(capture)
    names = scripted(Counter(row.event_name for row in events))
    assert names == expected.events, f"events differ from the script:\n{_describe(capture)}"
    assert sequence_gaps(events) == [], f"event.sequence has gaps:\n{_describe(capture)}"
    assert [int(row.attributes["event.sequence"]) for row in events] == list(range(len(events)))
    assert len({row.attributes.get("session.id") for row in events}) == 1
    assert all(row.body == f"claude_code.{row.event_name}" for row in events)

    prompt = next(row for row in events if row.event_name == "user_prompt")
    assert prompt.attributes["prompt"] == scenario.script.prompt
    # 2.1.332 sends the prompt a second time; 2.1.197 does not have the attribute.
    assert prompt.attributes.get("prompt_text", scenario.script.prompt) == scenario.script.prompt

    results = [row for row in events if row.event_name == "tool_result"]
    assert [(row.attributes["tool_name"], row.attributes["success"]) for row in results] == list(
        expected.tool_results
    )
    commands = [
        json.loads(row.attributes["tool_parameters"])["full_command"]
        for row in results
        if row.attributes["tool_name"] == "Bash"
    ]
    assert commands == list(expected.bash_commands)
    edited = [
        json.loads(row.attributes["tool_input"])["file_path"]
        for row in results
        if row.attributes["tool_name"] in ("Write", "Edit")
    ]
    assert edited == list(expected.edited_paths)

    requests = [row for row in events if row.event_name == "api_request"]
    assert sum(int(row.attributes["input_tokens"]) for row in requests) == expected.input_tokens
    assert sum(int(row.attributes["output_tokens"]) for row in requests) == expected.output_tokens
    assert all(float(row.attributes["cost_usd"]) > 0 for row in requests)


def check_metrics(capture: Capture, expected: Expectation) -> None:
    names = {point.name for point in capture.metrics}
    assert metric_total(capture, "session.count") == 1, names
    assert metric_total(capture, "token.usage", type="input") == expected.input_tokens
    assert metric_total(capture, "token.usage", type="output") == expected.output_tokens
    assert metric_total(capture, "token.usage", type="cacheRead") == 0
    cost = metric_total(capture, "cost.usage")
    assert (cost > 0) == (expected.answered_requests > 0), cost
    assert metric_total(capture, "lines_of_code.count", type="added") == expected.lines_added
    assert metric_total(capture, "lines_of_code.count", type="removed") == expected.lines_removed
    edits = Counter(
        {
            tool: int(metric_total(capture, "code_edit_tool.decision", tool_name=tool))
            for tool in ("Write", "Edit")
        }
    )
    assert +edits == expected.code_edits
    assert all(point.scope == METRICS_SCOPE for point in capture.metrics if point.name in names)
    assert all(point.temporality == 1 for point in capture.metrics), "expected delta points"


def check_spans(capture: Capture, expected: Expectation) -> None:
    spans = [span for span in capture.spans if span.scope == TRACES_SCOPE]
    assert Counter(span.name for span in spans) == expected.spans
    assert len({span.trace_id for span in spans}) == 1, "one interaction, one trace"
    ids = {span.span_id for span in spans}
    for span in spans:
        if span.name == "claude_code.interaction":
            assert span.parent_span_id == ""
        else:
            assert span.parent_span_id in ids, f"{span.name} has no parent in the capture"


def check_run(capture: Capture, scenario: Scenario, expected: Expectation) -> None:
    check_events(capture, scenario, expected)
    check_metrics(capture, expected)
    check_spans(capture, expected)
