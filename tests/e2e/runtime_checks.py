"""Read runtime.jsonl and check it against what a scripted Claude run must have caused.

The checks use the runtime contract's field names (nested objects, schema 1.0) and derive
every count from :func:`scenarios.expect`, never from what beacon happened to write.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import fastjsonschema

from beacon.pipeline.validate import load_schema
from e2e.scenarios import OPTIONAL_EVENTS, Expectation, Scenario, scripted

Line = dict[str, Any]
EVENTS_SCOPE = "com.anthropic.claude_code.events"
TRACES_SCOPE = "com.anthropic.claude_code.tracing"
METRICS_SCOPE = "com.anthropic.claude_code"

_validate_line = fastjsonschema.compile(load_schema())


def load_runtime(path: Path) -> list[Line]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def schema_errors(lines: Iterable[Line]) -> list[str]:
    errors = []
    for number, line in enumerate(lines, 1):
        try:
            _validate_line(line)
        except fastjsonschema.JsonSchemaException as exc:
            errors.append(f"line {number}: {exc}")
    return errors


def get(line: Mapping[str, Any], dotted: str) -> Any:
    value: Any = line
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def source(line: Line) -> dict[str, Any]:
    return dict(get(line, "beacon.source") or {})


def of_run(lines: Iterable[Line], beacon_session: str) -> list[Line]:
    return [line for line in lines if get(line, "beacon.session_id") == beacon_session]


def claude_events(lines: Iterable[Line]) -> list[Line]:
    """Lines made from Claude's events, in ``event.sequence`` order."""
    events = [line for line in lines if source(line).get("scope") == EVENTS_SCOPE]
    return sorted(events, key=lambda line: int(source(line).get("sequence", -1)))


def from_scope(lines: Iterable[Line], scope: str) -> list[Line]:
    return [line for line in lines if source(line).get("scope") == scope]


def lifecycle(lines: Iterable[Line]) -> list[str]:
    return [
        str(source(line).get("event_name"))
        for line in lines
        if source(line).get("scope") == "beacon"
    ]


def actions(lines: Iterable[Line]) -> Counter[str]:
    return Counter(str(get(line, "event.action")) for line in lines)


def sequence_gaps(events: Iterable[Line]) -> dict[str, list[int]]:
    """Per Claude session id, the ``event.sequence`` numbers missing below the highest."""
    seen: dict[str, set[int]] = {}
    for line in events:
        seen.setdefault(str(get(line, "session.id")), set()).add(int(source(line)["sequence"]))
    return {
        session: sorted(set(range(max(numbers) + 1)) - numbers)
        for session, numbers in seen.items()
        if set(range(max(numbers) + 1)) - numbers
    }


def metric_sum(lines: Iterable[Line], name: str, **raw: Any) -> float:
    return sum(
        float(get(line, "metric.value"))
        for line in lines
        if get(line, "metric.name") == f"claude_code.{name}"
        and all(get(line, "raw") is not None and line["raw"].get(k) == v for k, v in raw.items())
    )


def check_claude_run(
    lines: list[Line], scenario: Scenario, expected: Expectation, *, exit_code: int
) -> None:
    """Everything the script must cause is in ``lines`` (one beacon run), correctly shaped."""
    assert schema_errors(lines) == []
    events = claude_events(lines)
    by_event = scripted(Counter(str(source(line)["event_name"]) for line in events))
    assert by_event == Counter(
        {f"claude_code.{name}": count for name, count in expected.events.items()}
    ), f"Claude events differ from the script: {sorted(by_event.items())}"
    assert sequence_gaps(events) == {}
    assert len({get(line, "session.id") for line in events}) == 1
    assert all(get(line, "harness.name") == "claude_code" for line in events)
    assert all(get(line, "harness.version") for line in events)

    prompts = [line for line in events if get(line, "event.action") == "prompt.submitted"]
    assert len(prompts) == 1
    if scenario.planted_secret is None:
        assert get(prompts[0], "prompt.text") == scenario.script.prompt
    else:
        text = get(prompts[0], "prompt.text")
        assert scenario.planted_secret not in text
        prefix = scenario.script.prompt.split(scenario.planted_secret)[0]
        assert text.startswith(prefix) and text != scenario.script.prompt
        assert get(prompts[0], "content.redacted") is True

    commands = [
        get(line, "command.command")
        for line in events
        if get(line, "event.action") == "command.executed"
    ]
    assert commands == list(expected.bash_commands)
    modified = [
        get(line, "file.path") for line in events if get(line, "event.action") == "file.modified"
    ]
    assert modified == list(expected.edited_paths)
    approvals = [line for line in events if get(line, "event.action") == "approval.allowed"]
    assert len(approvals) == expected.events["tool_decision"]
    assert all(get(line, "approval.decision") == "accept" for line in approvals)

    requests = [line for line in events if source(line)["event_name"] == "claude_code.api_request"]
    assert all(get(line, "event.action") == "session.activity" for line in requests)
    assert all(get(line, "model") for line in requests)
    usage = [get(line, "gen_ai.usage") for line in requests]
    assert sum(u["input_tokens"] for u in usage) == expected.input_tokens
    assert sum(u["output_tokens"] for u in usage) == expected.output_tokens
    assert all(u["cost_usd"] > 0 for u in usage)
    errors = [line for line in events if get(line, "event.action") == "session.error"]
    assert len(errors) == expected.events["api_error"] + expected.events["api_retries_exhausted"]

    metrics = from_scope(lines, METRICS_SCOPE)
    assert all(get(line, "event.action") == "metric.observed" for line in metrics)
    assert all(get(line, "gen_ai.usage") is None for line in metrics)
    assert metric_sum(metrics, "session.count") == 1
    assert metric_sum(metrics, "token.usage", type="input") == expected.input_tokens
    assert metric_sum(metrics, "token.usage", type="output") == expected.output_tokens
    assert (metric_sum(metrics, "cost.usage") > 0) == (expected.answered_requests > 0)
    assert metric_sum(metrics, "lines_of_code.count", type="added") == expected.lines_added
    assert metric_sum(metrics, "lines_of_code.count", type="removed") == expected.lines_removed

    spans = from_scope(lines, TRACES_SCOPE)
    assert Counter(str(source(line)["event_name"]) for line in spans) == expected.spans
    assert len({get(line, "trace.id") for line in spans}) == 1
    assert all(get(line, "trace.span_id") for line in spans)

    stages = lifecycle(lines)
    for name in (
        "beacon.collector.started",
        "beacon.child.started",
        "beacon.child.exited",
        "beacon.drain.completed",
        "beacon.collector.stopped",
    ):
        assert stages.count(name) == 1, stages
    exited = next(line for line in lines if source(line).get("event_name") == "beacon.child.exited")
    assert get(exited, "command.exit_code") == exit_code
    assert isinstance(get(exited, "command.duration_ms"), int)
    kinds = actions(lines)
    assert kinds["session.started"] == 1 and kinds["session.ended"] == 1


# --- cross-protocol comparison -------------------------------------------------------------

# Keys whose values are ids, times or measured durations: they differ between two runs of
# the same script and carry no meaning for the comparison.
_VOLATILE_KEYS = frozenset(
    {
        "timestamp",
        "event.timestamp",
        "session_id",
        "beacon.session.id",
        "session.id",
        "prompt.id",
        "user.id",
        "id",
        "trace",
        "request_id",
        "tool_use_id",
        "gen_ai.tool.call.id",
        "gen_ai.response.id",
        "call",
        "response",
        "duration_ms",
        "ttft_ms",
        "first_content_ms",
        "time_to_first_chunk",
        "message.uuid",
        "gen_ai.conversation.id",
        "interaction.duration_ms",
        "waited_ms",
        "pid",
        "generated_at",
        "requests",
    }
)
# Metrics whose values are measured, not scripted.
_MEASURED_METRICS = frozenset({"claude_code.active_time.total"})


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in sorted(value.items()) if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def normalized(lines: Iterable[Line], roots: Iterable[Path]) -> list[str]:
    """One run's lines without ids, times and durations, metric points summed; sorted.

    ``roots`` are the run's scratch directories, replaced by placeholders so two runs in
    different temporary directories compare equal.
    """
    root_names = [(str(root), f"<root{index}>") for index, root in enumerate(roots)]

    def rooted(value: Any) -> Any:
        text = json.dumps(value, sort_keys=True)
        for root, name in root_names:
            text = text.replace(root, name)
        return json.loads(text)

    plain: list[str] = []
    metric_totals: dict[str, float] = {}
    for line in lines:
        if get(line, "event.action") == "session.summary":
            continue  # counts how exports were batched: differs by protocol by design
        if str(source(line).get("event_name")).removeprefix("claude_code.") in OPTIONAL_EVENTS:
            continue  # comes in some runs only, whatever the protocol
        scrubbed = rooted(_scrub(line))
        if get(line, "harness.name") == "beacon":
            # beacon's own records name its listeners: protocol-specific by design.
            scrubbed.pop("raw", None)
        name = get(line, "metric.name")
        if name is None:
            plain.append(json.dumps(scrubbed, sort_keys=True))
            continue
        value = 0.0 if name in _MEASURED_METRICS else float(get(line, "metric.value"))
        scrubbed["metric"].pop("value", None)
        key = json.dumps(scrubbed, sort_keys=True)
        metric_totals[key] = metric_totals.get(key, 0.0) + value
    plain += [f"{key} = {round(total, 9)}" for key, total in metric_totals.items()]
    return sorted(plain)
