"""Realistic Claude-Code-shaped OTLP payloads for the benchmarks.

The shapes follow what Claude Code 2.1.197 really exports (see
tests/fixtures/claude-code-2.1.197): the same event names, attribute keys,
value types (several ints arrive as strings) and sizes.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

CLAUDE_VERSION = "2.1.197"
RESOURCE = {
    "host.arch": "amd64",
    "os.type": "linux",
    "os.version": "6.1.0",
    "service.name": "claude-code",
    "service.version": CLAUDE_VERSION,
}


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attributes(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_value(value)) for key, value in values.items()]


def _event_attributes(rng: random.Random, name: str, sequence: int) -> dict[str, Any]:
    command = rng.choice(["npm test", "git status", "pytest -q tests/", "ls -la src", "make lint"])
    path = f"/home/runner/work/app/src/module_{rng.randrange(1000)}.py"
    if name == "user_prompt":
        prompt = (
            "Fix the failing test in " + path + " and explain the change. " * rng.randrange(1, 6)
        )
        if rng.random() < 0.05:
            prompt += " use token ghp_" + "".join(rng.choices("abcdefghijKLMNOP0123456789", k=36))
        return {"prompt_length": str(len(prompt)), "prompt": prompt}
    if name == "tool_decision":
        return {
            "decision": "accept",
            "source": "config",
            "tool_name": "Bash",
            "tool_use_id": f"toolu_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
            "tool_parameters": (
                f'{{"bash_command":"{command.split()[0]}","full_command":"{command}"}}'
            ),
        }
    if name == "api_request":
        return {
            "model": "claude-opus-4-8",
            "input_tokens": rng.randrange(100, 50000),
            "output_tokens": rng.randrange(10, 4000),
            "cache_read_tokens": rng.randrange(0, 20000),
            "cache_creation_tokens": 0,
            "cost_usd": round(rng.random() / 10, 6),
            "duration_ms": rng.randrange(100, 9000),
            "request_id": f"req_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
            "speed": "normal",
            "query_source": "sdk",
        }
    if name == "assistant_response":
        text = "I ran the tests and fixed the assertion. " * rng.randrange(1, 8)
        return {"response_length": len(text), "response": text, "model": "claude-opus-4-8"}
    return {
        "tool_name": "Edit" if sequence % 3 == 0 else "Bash",
        "tool_use_id": f"toolu_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
        "success": "true",
        "duration_ms": str(rng.randrange(1, 3000)),
        "tool_parameters": f'{{"full_command":"{command}","file_path":"{path}"}}',
        "tool_input": f'{{"command":"{command}","file_path":"{path}"}}',
        "tool_input_size_bytes": "46",
        "tool_result_size_bytes": str(rng.randrange(1, 5000)),
    }


EVENT_CYCLE = ("user_prompt", "tool_decision", "api_request", "assistant_response", "tool_result")


def log_requests(
    records_per_request: int = 100, seed: int = 7
) -> Iterator[ExportLogsServiceRequest]:
    """An endless stream of log export requests, each with ``records_per_request`` records."""
    rng = random.Random(seed)
    sequence = 0
    session_id = str(uuid.UUID(int=rng.getrandbits(128)))
    base_ns = 1_795_912_906_281_000_000
    while True:
        request = ExportLogsServiceRequest()
        resource_logs = request.resource_logs.add()
        resource_logs.resource.attributes.extend(_attributes(RESOURCE))
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = "com.anthropic.claude_code.events"
        scope_logs.scope.version = CLAUDE_VERSION
        for _ in range(records_per_request):
            name = EVENT_CYCLE[sequence % len(EVENT_CYCLE)]
            common = {
                "user.id": "7a336ae973d895b1accb29bff039957113721d9820c5d1fda40fc1bee0574693",
                "session.id": session_id,
                "terminal.type": "dumb",
                "event.name": name,
                "event.timestamp": "2026-11-29T00:41:52.338Z",
                "event.sequence": sequence,
                "prompt.id": str(uuid.UUID(int=rng.getrandbits(128))),
            }
            record = LogRecord(
                time_unix_nano=base_ns + sequence * 1_000_000,
                observed_time_unix_nano=base_ns + sequence * 1_000_000,
                body=AnyValue(string_value=f"claude_code.{name}"),
                trace_id=rng.randbytes(16),
                span_id=rng.randbytes(8),
                flags=1,
            )
            record.attributes.extend(_attributes(common | _event_attributes(rng, name, sequence)))
            scope_logs.log_records.append(record)
            sequence += 1
        yield request
