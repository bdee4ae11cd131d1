"""Throughput of the whole pipeline on a synthetic spool (not a test; run by hand).

    python tests/pipeline/bench_pipeline.py [EVENTS]

Writes a spool of Claude-Code-shaped log records (100 per export request,
every 10th carrying a secret), runs ``run_pipeline`` and prints events/s.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from beacon.pipeline import PipelineOptions, run_pipeline
from benchmarks.pipeline import production_redaction


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _record(n: int) -> dict[str, Any]:
    command = f"git commit -m 'change {n}' && pytest -q tests/test_{n % 50}.py"
    if n % 10 == 0:
        command = f"curl -H 'Authorization: Bearer ghp_{'x1' * 18}' https://api.github.com/{n}"
    attrs = [
        _kv("session.id", "517e1928-fbde-4045-a0d1-c6c69d3bec1e"),
        _kv("user.id", "7a336ae973d895b1accb29bff039957113721d9820c5d1fda40fc1bee0574693"),
        _kv("terminal.type", "dumb"),
        _kv("event.name", "tool_result"),
        _kv("event.timestamp", "2026-11-29T00:41:52.560Z"),
        _kv("event.sequence", n),
        _kv("prompt.id", "2e447e2e-6834-4372-8373-1aa3028690ba"),
        _kv("tool_name", "Bash"),
        _kv("tool_use_id", f"toolu_{n:024x}"),
        _kv("success", "true"),
        _kv("duration_ms", str(n % 1000)),
        _kv("tool_parameters", orjson.dumps({"full_command": command}).decode()),
        _kv("tool_input", orjson.dumps({"command": command, "description": "Run"}).decode()),
    ]
    return {
        "timeUnixNano": str(1795912912560000000 + n * 1_000_000),
        "body": {"stringValue": "claude_code.tool_result"},
        "attributes": attrs,
        "traceId": "87da3bd16e013e6b1dd8564f393a6c57",
        "spanId": "b8efb0e2d355e068",
    }


def write_spool(path: Path, events: int, per_request: int = 100) -> None:
    resource = {
        "attributes": [_kv("service.name", "claude-code"), _kv("service.version", "2.1.197")]
    }
    scope = {"name": "com.anthropic.claude_code.events", "version": "2.1.197"}
    with path.open("wb") as spool:
        for start in range(0, events, per_request):
            records = [_record(n) for n in range(start, min(events, start + per_request))]
            request = {
                "resourceLogs": [
                    {"resource": resource, "scopeLogs": [{"scope": scope, "logRecords": records}]}
                ]
            }
            spool.write(orjson.dumps(request) + b"\n")


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        spool = Path(tmp) / "otlp.jsonl"
        write_spool(spool, events)
        # The collector's token is always a literal to redact in production.
        options = PipelineOptions(
            session_id="bench",
            log_path=Path(tmp) / "runtime.jsonl",
            redaction=production_redaction(),
        )
        started = time.perf_counter()
        cpu_started = time.process_time()
        result = run_pipeline(spool, options)
        cpu = time.process_time() - cpu_started
        elapsed = time.perf_counter() - started
    # CPU time is reported too: on a shared machine wall time mostly measures the neighbours.
    print(
        f"{result.events_written} events in {elapsed:.2f} s wall, {cpu:.2f} s CPU: "
        f"{result.events_written / elapsed:,.0f} events/s wall, "
        f"{result.events_written / cpu:,.0f} events/CPU-second "
        f"(validation {result.validation.status}, redactions {result.redactions})"
    )


if __name__ == "__main__":
    main()
