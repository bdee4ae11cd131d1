"""Lifecycle records have the shape docs/architecture.md pins."""

from __future__ import annotations

import orjson

from beacon import __version__
from beacon.otlp.codec import encode_spool_line
from beacon.otlp.records import lifecycle_request


def test_lifecycle_record_shape() -> None:
    req = lifecycle_request(
        "child.exited",
        {"exit_code": 3, "timed_out": False, "ratio": 0.5, "cwd": "/x"},
        "sess-1",
        time_unix_nano=1_700_000_000_000_000_000,
    )
    line = orjson.loads(encode_spool_line("logs", req))
    (resource_logs,) = line["resourceLogs"]
    resource = {a["key"]: a["value"] for a in resource_logs["resource"]["attributes"]}
    assert resource == {
        "service.name": {"stringValue": "beacon"},
        "service.version": {"stringValue": __version__},
        "beacon.session.id": {"stringValue": "sess-1"},
    }
    (scope_logs,) = resource_logs["scopeLogs"]
    assert scope_logs["scope"]["name"] == "beacon"
    (record,) = scope_logs["logRecords"]
    assert record["body"] == {"stringValue": "beacon.child.exited"}
    assert record["timeUnixNano"] == "1700000000000000000"
    attrs = {a["key"]: a["value"] for a in record["attributes"]}
    assert attrs == {
        "event.name": {"stringValue": "child.exited"},
        "exit_code": {"intValue": "3"},
        "timed_out": {"boolValue": False},
        "ratio": {"doubleValue": 0.5},
        "cwd": {"stringValue": "/x"},
    }


def test_lifecycle_time_defaults_to_now() -> None:
    req = lifecycle_request("collector.started", {}, "s")
    assert req.resource_logs[0].scope_logs[0].log_records[0].time_unix_nano > 0
