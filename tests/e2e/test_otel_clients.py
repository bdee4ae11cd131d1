"""Real OpenTelemetry SDK clients (Node.js, Python) over every protocol, gzip on and off.

Each client emits the records of ``clients/otel_spec.json`` and exits after flushing; the
collector's spool must then hold exactly those records -- no more, no fewer, same values.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest

from beacon.collector import Collector
from e2e.claude_runner import run_process
from e2e.otlp_view import Capture, capture_spool

SPEC_PATH = Path(__file__).resolve().parent / "clients" / "otel_spec.json"
PYTHON_CLIENT = Path(__file__).resolve().parent / "clients" / "emit_otel.py"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))

# The Python SDK has no OTLP/JSON exporter, so it is not in the http/json column.
CASES = [
    (client, protocol, gzip)
    for client, protocols in (
        ("node", ("grpc", "http/protobuf", "http/json")),
        ("python", ("grpc", "http/protobuf")),
    )
    for protocol in protocols
    for gzip in (False, True)
]


def typed(value: Any) -> Any:
    """A value with its type spelled out, so 1 (intValue) never equals 1.0 (doubleValue)."""
    if isinstance(value, list | tuple):
        return ("array", tuple(typed(item) for item in value))
    return (type(value).__name__, value)


def typed_attributes(attributes: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((key, typed(value)) for key, value in attributes.items()))


def expected_logs() -> list[tuple[Any, ...]]:
    return sorted(
        (
            record["body"],
            record["severity_number"],
            record["severity_text"],
            typed_attributes(record["attributes"]),
        )
        for record in SPEC["logs"]
    )


def captured_logs(capture: Capture) -> list[tuple[Any, ...]]:
    return sorted(
        (row.body, row.severity_number, row.severity_text, typed_attributes(row.attributes))
        for row in capture.logs
    )


def expected_counter() -> dict[str, float]:
    totals: dict[str, float] = {}
    for value, attributes in SPEC["counter"]["adds"]:
        totals[attributes["route"]] = totals.get(attributes["route"], 0) + value
    return totals


def client_env(protocol: str, endpoint: str, token: str, gzip: bool) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/nonexistent",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer%20{token}",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    if gzip:
        env["OTEL_EXPORTER_OTLP_COMPRESSION"] = "gzip"
    return env


@pytest.mark.parametrize(
    ("client", "protocol", "gzip"),
    CASES,
    ids=[f"{c}-{p}-{'gzip' if g else 'plain'}" for c, p, g in CASES],
)
async def test_client_records_land_intact(
    client: str,
    protocol: str,
    gzip: bool,
    collector: Collector,
    collector_token: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    run_id = secrets.token_hex(8)
    receiver = "grpc" if protocol == "grpc" else "http"
    env = client_env(protocol, collector.endpoints[receiver], collector_token, gzip)
    if client == "node":
        node_dir: Path = request.getfixturevalue("node_client_dir")
        argv = ["node", str(node_dir / "emit.mjs"), str(SPEC_PATH), run_id]
    else:
        argv = [sys.executable, str(PYTHON_CLIENT), str(SPEC_PATH), run_id]

    result = await run_process(argv, env, tmp_path)
    await collector.wait_quiet(0.2, 5.0)
    await collector.stop()

    assert result.returncode == 0, result.describe()
    capture = capture_spool(collector.config.spool_path).without_beacon()
    assert capture.export_requests == {"logs": 1, "metrics": 1, "traces": 1}
    mine = capture.where(**{"e2e.run.id": run_id, "e2e.client": client})
    assert mine.record_count == capture.record_count, "records without the run's resource"

    assert captured_logs(mine) == expected_logs()
    assert {row.scope for row in mine.logs} == {"e2e.client"}

    counter = [p for p in mine.metrics if p.name == SPEC["counter"]["name"]]
    assert {p.attributes["route"]: p.value for p in counter} == expected_counter()
    assert {(p.kind, p.unit, p.temporality) for p in counter} == {("sum", "1", 1)}
    histogram = [p for p in mine.metrics if p.name == SPEC["histogram"]["name"]]
    records = SPEC["histogram"]["records"]
    assert [(p.kind, p.count, p.value) for p in histogram] == [
        ("histogram", len(records), sum(value for value, _ in records))
    ]

    spans = {span.name: span for span in mine.spans}
    parent_spec = SPEC["spans"][0]
    assert set(spans) == {parent_spec["name"], *(c["name"] for c in parent_spec["children"])}
    parent = spans[parent_spec["name"]]
    assert parent.parent_span_id == ""
    assert typed_attributes(parent.attributes) == typed_attributes(parent_spec["attributes"])
    for child_spec in parent_spec["children"]:
        child = spans[child_spec["name"]]
        assert child.trace_id == parent.trace_id
        assert child.parent_span_id == parent.span_id
        assert typed_attributes(child.attributes) == typed_attributes(child_spec["attributes"])
        assert child.events == tuple(child_spec.get("events", ()))
        if "error" in child_spec:
            assert (child.status_code, child.status_message) == (2, child_spec["error"])
        else:
            assert child.status_code == 0
    assert len(parent.trace_id) == 32 and len(parent.span_id) == 16
