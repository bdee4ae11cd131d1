"""Shared helpers for the pipeline tests: fixtures as spool requests, running the stages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
from google.protobuf import json_format

from beacon.otlp.codec import request_to_dict, request_type
from beacon.pipeline import PipelineOptions
from beacon.pipeline.chunks import make_protector
from beacon.pipeline.normalize import LineContext, NormalizeStats, normalize
from beacon.pipeline.runner import make_context
from tests.jsondecode import parse_json_request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CLAUDE = FIXTURES / "claude-code-2.1.197"
CLAUDE_2_1_332 = FIXTURES / "claude-code-2.1.332"
SIGNALS = ("logs", "metrics", "traces")
PROTOCOLS = ("grpc", "http-protobuf", "http-json")

Request = tuple[str, dict[str, Any]]


def fixture_request(
    signal: str, protocol: str, suffix: str = "", directory: Path = CLAUDE
) -> Request:
    """A recorded fixture as the spool holds it (codec output), whatever its rendering."""
    path = directory / f"{signal}.{protocol}{suffix}.json"
    if protocol == "http-json":
        message = parse_json_request(signal, path.read_bytes())
    else:
        message = json_format.Parse(path.read_text(), request_type(signal)())
    return signal, request_to_dict(signal, message)


def fixture_requests(
    protocol: str, suffix: str = "", directory: Path = CLAUDE, signals: Iterable[str] = SIGNALS
) -> list[Request]:
    return [fixture_request(signal, protocol, suffix, directory) for signal in signals]


def context(session_id: str = "run-1", **kwargs: Any) -> LineContext:
    values: dict[str, Any] = {
        "session_id": session_id,
        "hostname": "runner-1",
        "os": "linux",
        "agent_version": "0.1.0",
        "now_nanos": 1_795_912_900_000_000_000,
    }
    values.update(kwargs)
    return LineContext(**values)


def normalized(requests: Iterable[Request], ctx: LineContext | None = None) -> list[dict[str, Any]]:
    return list(normalize(requests, ctx or context(), NormalizeStats()))


def protected_lines(
    requests: Iterable[Request], options: PipelineOptions | None = None
) -> list[dict[str, Any]]:
    """Normalize + redact/sanitize/truncate/cap, parsed back from the bytes written."""
    options = options or PipelineOptions(session_id="run-1", log_path=Path("unused"))
    protector = make_protector(options.redaction, options.max_field_bytes, options.max_line_bytes)
    ctx = make_context(options, protector)
    return [
        orjson.loads(protector.protect(line)) for line in normalize(requests, ctx, NormalizeStats())
    ]


def write_spool(path: Path, requests: Iterable[Request]) -> Path:
    with path.open("wb") as spool:
        for _signal, payload in requests:
            spool.write(orjson.dumps(payload) + b"\n")
    return path


def log_request(
    attributes: Mapping[str, Any],
    *,
    body: str = "claude_code.tool_result",
    scope: str = "com.anthropic.claude_code.events",
    resource: Mapping[str, Any] | None = None,
    time_unix_nano: str = "1795912912560000000",
) -> Request:
    """A one-record logs request with string/int/bool/double attributes."""

    def any_value(value: Any) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"boolValue": value}
        if isinstance(value, int):
            return {"intValue": str(value)}
        if isinstance(value, float):
            return {"doubleValue": value}
        return {"stringValue": value}

    def kvs(pairs: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"key": k, "value": any_value(v)} for k, v in pairs.items()]

    resource_attrs = resource or {"service.name": "claude-code", "service.version": "2.1.197"}
    record = {
        "timeUnixNano": time_unix_nano,
        "body": {"stringValue": body},
        "attributes": kvs(attributes),
    }
    return "logs", {
        "resourceLogs": [
            {
                "resource": {"attributes": kvs(resource_attrs)},
                "scopeLogs": [{"scope": {"name": scope}, "logRecords": [record]}],
            }
        ]
    }
