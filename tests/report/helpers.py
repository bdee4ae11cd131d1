"""Report test helpers: the recorded fixtures through the real pipeline, and oracles.

The oracles read the recorded OTLP/JSON fixtures directly (not beacon's lines), so the
report's figures are checked against what Claude Code actually sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from beacon.pipeline import PipelineOptions, run_pipeline
from tests.pipeline.helpers import CLAUDE, Request, fixture_requests, write_spool

WRITE_SUFFIX = ".write-tool"


def fixture_run_requests(protocol: str) -> list[Request]:
    """Two Claude sessions in one beacon run: the Bash run and the Write run."""
    # The Write run was recorded over HTTP/protobuf only.
    return [*fixture_requests(protocol), *fixture_requests("http-protobuf", WRITE_SUFFIX)]


def pipeline_log(
    tmp_path: Path, requests: list[Request], session_id: str = "run-1", name: str = "runtime"
) -> Path:
    """runtime.jsonl made by the real pipeline from ``requests``."""
    spool = write_spool(tmp_path / f"{name}.spool.jsonl", requests)
    log = tmp_path / f"{name}.jsonl"
    run_pipeline(spool, PipelineOptions(session_id=session_id, log_path=log))
    return log


def _value(any_value: Mapping[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in any_value:
            return any_value[key]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    return None


def otlp_log_records(protocol: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event body, attributes) of the recorded logs of :func:`fixture_run_requests`."""
    for name in (f"logs.{protocol}.json", f"logs.http-protobuf{WRITE_SUFFIX}.json"):
        yield from _records(json.loads((CLAUDE / name).read_text()))


def _records(data: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in data["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                attrs = {a["key"]: _value(a["value"]) for a in record.get("attributes", [])}
                yield record["body"]["stringValue"], attrs


def otlp_usage(protocol: str) -> dict[str, Any]:
    """Tokens and cost summed over the fixtures' api_request events."""
    totals: dict[str, Any] = {
        "input": 0,
        "output": 0,
        "cache_read": 0,
        "cache_creation": 0,
        "cost": [],
        "requests": 0,
        "models": set(),
    }
    for body, attrs in otlp_log_records(protocol):
        if body != "claude_code.api_request":
            continue
        totals["requests"] += 1
        totals["input"] += attrs["input_tokens"]
        totals["output"] += attrs["output_tokens"]
        totals["cache_read"] += attrs["cache_read_tokens"]
        totals["cache_creation"] += attrs["cache_creation_tokens"]
        totals["cost"].append(attrs["cost_usd"])
        totals["models"].add(attrs["model"])
    return totals


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def resolve(document: Any, dotted: str) -> Any:
    """``totals.models.0.cost_usd`` in a JSON document (list indexes as numbers)."""
    node = document
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node
