"""Validation stages (ok / warn / fail) and run_pipeline end to end over real spool files."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from beacon.otlp.codec import request_to_dict
from beacon.otlp.records import lifecycle_request
from beacon.pipeline import PipelineOptions, SpoolHealth, run_pipeline, validate_log
from beacon.pipeline.report import render_validation
from beacon.pipeline.validate import LogScan, verdict

from .helpers import FIXTURES, Request, fixture_requests, write_spool


def lifecycle(name: str, attributes: dict[str, Any], session_id: str) -> Request:
    return "logs", request_to_dict("logs", lifecycle_request(name, attributes, session_id))


def full_run(session_id: str, *, rejected: int = 0) -> list[Request]:
    return [
        lifecycle("collector.started", {"protocol": "grpc", "receivers": "grpc"}, session_id),
        lifecycle("child.started", {"command": '["claude", "-p", "hi"]', "pid": 42}, session_id),
        *fixture_requests("grpc"),
        lifecycle("child.exited", {"exit_code": 0, "duration_ms": 1234}, session_id),
        lifecycle(
            "drain.completed", {"waited_ms": 200, "records": 20, "timed_out": False}, session_id
        ),
        lifecycle(
            "collector.stopped",
            {"records.logs": 7, "rejected.logs": rejected, "rejected.metrics": 0},
            session_id,
        ),
    ]


def run(tmp_path: Path, session_id: str, requests: list[Request], **kwargs: Any) -> Any:
    spool = write_spool(tmp_path / f"spool-{session_id}.jsonl", requests)
    options = PipelineOptions(session_id=session_id, log_path=tmp_path / "runtime.jsonl", **kwargs)
    return run_pipeline(spool, options)


def stage(result: Any, name: str) -> tuple[str, str]:
    (found,) = [s for s in result.stages if s.name == name]
    return found.status, found.message


def test_a_complete_run_validates_ok(tmp_path: Path) -> None:
    result = run(tmp_path, "run-a", full_run("run-a"), require_actions=("command.executed",))
    validation = result.validation
    assert validation.status == "ok", render_validation(validation)
    assert result.events_written == 25
    # beacon's own lines (5 lifecycle + summary) never count as harness events
    assert validation.event_count == 20
    assert validation.actions["session.started"] == 1
    assert validation.actions["session.ended"] == 1
    assert validation.actions["session.summary"] == 1
    assert {s.name for s in validation.stages} == {
        "log_exists",
        "lines_parse",
        "schema",
        "session",
        "harness_events",
        "require_actions",
        "spool_health",
    }
    as_dict = validation.to_dict()
    assert set(as_dict) >= {
        "status",
        "log_path",
        "event_count",
        "stages",
        "generated_at",
        "actions",
    }
    assert orjson.loads(orjson.dumps(as_dict)) == as_dict


def test_lifecycle_lines_carry_the_child_exit(tmp_path: Path) -> None:
    run(tmp_path, "run-a", full_run("run-a"))
    lines = [orjson.loads(x) for x in (tmp_path / "runtime.jsonl").read_bytes().splitlines()]
    (exited,) = [
        x for x in lines if x["beacon"]["source"].get("event_name") == "beacon.child.exited"
    ]
    assert exited["command"] == {"exit_code": 0, "duration_ms": 1234}
    assert exited["harness"]["name"] == "beacon"
    (started,) = [
        x for x in lines if x["beacon"]["source"].get("event_name") == "beacon.child.started"
    ]
    assert started["command"]["command"] == "claude -p hi"
    summary = lines[-1]
    assert summary["event"]["action"] == "session.summary"
    assert summary["beacon"]["summary"]["events_written"] == 25
    assert summary["beacon"]["summary"]["actions"]["command.executed"] == 2
    assert all(x["beacon"]["session_id"] == "run-a" for x in lines)


def test_the_log_is_created_private(tmp_path: Path) -> None:
    run(tmp_path, "run-a", full_run("run-a"))
    assert stat.S_IMODE((tmp_path / "runtime.jsonl").stat().st_mode) == 0o600


def test_missing_log_fails(tmp_path: Path) -> None:
    result = validate_log(tmp_path / "nope.jsonl", session_id=None)
    assert result.status == "fail"
    assert stage(result, "log_exists")[0] == "fail"


def test_an_unparseable_line_is_another_runs_damage_and_warns(tmp_path: Path) -> None:
    # A line that does not parse carries no session id: it cannot be this run's failure.
    run(tmp_path, "run-a", full_run("run-a"))
    with (tmp_path / "runtime.jsonl").open("ab") as log:
        log.write(b'{"truncated": \n')
    result = validate_log(tmp_path / "runtime.jsonl", session_id="run-a")
    assert result.status == "warn"
    status, message = stage(result, "lines_parse")
    assert status == "warn" and "line 27" in message and "not this run's" in message


def test_a_line_of_this_run_the_pipeline_wrote_unparseable_fails() -> None:
    scan = LogScan.part("run-a", ("claude_code",))
    scan.add(1, b'{"truncated": ')
    whole = LogScan(session_id="run-a")
    whole.absorb(scan.to_wire(), 10)
    status, message = stage(verdict(Path("runtime.jsonl"), whole), "lines_parse")
    assert status == "fail" and "line 11" in message


def test_a_line_of_this_run_off_schema_fails(tmp_path: Path) -> None:
    run(tmp_path, "run-a", full_run("run-a"))
    log = tmp_path / "runtime.jsonl"
    lines = log.read_bytes().splitlines()
    bad = orjson.loads(lines[3])
    bad["command"] = {"exit_code": "zero"}
    log.write_bytes(b"\n".join([*lines, orjson.dumps(bad)]) + b"\n")
    result = validate_log(log, session_id="run-a")
    status, message = stage(result, "schema")
    assert status == "fail"
    assert "exit_code" in message


def test_a_line_of_another_run_off_schema_warns(tmp_path: Path) -> None:
    run(tmp_path, "run-a", full_run("run-a"))
    log = tmp_path / "runtime.jsonl"
    lines = log.read_bytes().splitlines()
    bad = orjson.loads(lines[3])
    bad["command"] = {"exit_code": "zero"}
    log.write_bytes(b"\n".join([orjson.dumps(bad), *lines]) + b"\n")
    run(tmp_path, "run-b", full_run("run-b"))
    for session in ("run-b", None):  # None: the most recent run, run-b
        status, message = stage(validate_log(log, session_id=session), "schema")
        assert status == "warn" and "other runs" in message and "line 1" in message
    status, _ = stage(validate_log(log, session_id="run-a"), "schema")
    assert status == "fail"


def test_lines_of_another_run_do_not_count(tmp_path: Path) -> None:
    run(tmp_path, "run-a", full_run("run-a"))
    only_lifecycle = [
        lifecycle("collector.started", {"protocol": "grpc"}, "run-b"),
        lifecycle("collector.stopped", {"records.logs": 0}, "run-b"),
    ]
    result = run(tmp_path, "run-b", only_lifecycle)
    validation = result.validation
    assert validation.status == "fail"
    status, message = stage(validation, "harness_events")
    assert status == "fail" and message.startswith("0 events")
    # The earlier run in the same file is still intact and valid.
    assert validate_log(tmp_path / "runtime.jsonl", session_id="run-a").status == "ok"


def test_without_a_session_id_the_most_recent_run_is_checked(tmp_path: Path) -> None:
    run(tmp_path, "run-a", full_run("run-a"))
    run(tmp_path, "run-b", [lifecycle("collector.started", {"protocol": "grpc"}, "run-b")])
    latest = validate_log(tmp_path / "runtime.jsonl", session_id=None)
    assert latest.session_id == "run-b"
    assert latest.status == "fail"
    assert validate_log(tmp_path / "runtime.jsonl", session_id="run-a").status == "ok"


def test_an_unknown_session_fails(tmp_path: Path) -> None:
    run(tmp_path, "run-a", full_run("run-a"))
    result = validate_log(tmp_path / "runtime.jsonl", session_id="run-zzz")
    assert stage(result, "session")[0] == "fail"


def test_min_events_is_a_threshold(tmp_path: Path) -> None:
    result = run(tmp_path, "run-a", full_run("run-a"), min_events=21)
    assert stage(result.validation, "harness_events")[0] == "fail"
    result = validate_log(tmp_path / "runtime.jsonl", session_id="run-a", min_events=20)
    assert stage(result, "harness_events")[0] == "ok"


def test_otel_harness_counts_only_generic_lines(tmp_path: Path) -> None:
    result = run(tmp_path, "run-a", full_run("run-a"), harnesses=("otel",))
    assert stage(result.validation, "harness_events")[0] == "fail"


def test_required_actions(tmp_path: Path) -> None:
    result = run(
        tmp_path, "run-a", full_run("run-a"), require_actions=("file.modified", "command.executed")
    )
    status, message = stage(result.validation, "require_actions")
    assert status == "fail"
    assert "file.modified" in message and "command.executed" not in message


def test_rejected_exports_warn(tmp_path: Path) -> None:
    result = run(tmp_path, "run-a", full_run("run-a", rejected=3))
    assert result.validation.status == "warn"
    status, message = stage(result.validation, "spool_health")
    assert status == "warn" and "rejected" in message and "logs=3" in message


def test_event_sequence_gaps_warn(tmp_path: Path) -> None:
    requests = full_run("run-a")
    logs = next(payload for signal, payload in requests[2:] if signal == "logs")
    records = logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    del records[2]  # event.sequence 2 never arrived
    result = run(tmp_path, "run-a", requests)
    status, message = stage(result.validation, "spool_health")
    assert status == "warn"
    assert "1 of 7 events missing" in message


def test_a_truncated_spool_tail_warns(tmp_path: Path) -> None:
    spool = write_spool(tmp_path / "spool.jsonl", full_run("run-a"))
    with spool.open("ab") as file:
        file.write(b'{"resourceLogs": [')
    options = PipelineOptions(session_id="run-a", log_path=tmp_path / "runtime.jsonl")
    result = run_pipeline(spool, options)
    assert result.spool_truncated_tail is True
    status, message = stage(result.validation, "spool_health")
    assert status == "warn" and "partial line" in message
    # ci validate later reads the same finding back from the summary line
    again = validate_log(tmp_path / "runtime.jsonl", session_id="run-a")
    assert stage(again, "spool_health")[0] == "warn"


def test_spool_health_given_by_the_caller_wins(tmp_path: Path) -> None:
    run(tmp_path, "run-a", full_run("run-a"))
    result = validate_log(
        tmp_path / "runtime.jsonl", session_id="run-a", spool_health=SpoolHealth(bad_lines=2)
    )
    status, message = stage(result, "spool_health")
    assert status == "warn" and "2 spool lines" in message


def test_a_missing_spool_still_records_the_run(tmp_path: Path) -> None:
    options = PipelineOptions(session_id="run-x", log_path=tmp_path / "runtime.jsonl")
    result = run_pipeline(tmp_path / "absent.jsonl", options)
    assert result.events_written == 0
    assert result.spool_missing is True
    assert result.validation.status == "fail"
    assert stage(result.validation, "harness_events")[0] == "fail"
    assert "missing" in stage(result.validation, "spool_health")[1]
    (summary,) = (tmp_path / "runtime.jsonl").read_bytes().splitlines()
    assert orjson.loads(summary)["event"]["action"] == "session.summary"


def test_redaction_counts_reach_the_result_and_summary(tmp_path: Path) -> None:
    token = "ghp_" + "Zz9" * 12
    requests = full_run("run-a")
    requests.insert(
        2,
        lifecycle(
            "child.started",
            {"command": f'["gh", "auth", "login", "--with-token", "{token}"]'},
            "run-a",
        ),
    )
    result = run(tmp_path, "run-a", requests, environ={"CI": "true"})
    assert result.redactions == {"github_token": 2}
    text = (tmp_path / "runtime.jsonl").read_text()
    assert token not in text
    summary = orjson.loads(text.splitlines()[-1])
    assert summary["beacon"]["summary"]["redactions"] == {"github_token": 2}
    assert summary["run"] == {"provider": "generic"}


def test_render_validation_is_readable(tmp_path: Path) -> None:
    result = run(tmp_path, "run-a", full_run("run-a", rejected=1))
    text = render_validation(result.validation)
    assert text.splitlines()[0].startswith("beacon validation: WARN")
    assert "[WARN] spool_health" in text


@pytest.mark.parametrize("bad", [b"[]", b"42", b'"text"'])
def test_non_object_lines_are_reported_and_no_run_fails(tmp_path: Path, bad: bytes) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(bad + b"\n")
    result = validate_log(log, session_id=None)
    assert stage(result, "lines_parse")[0] == "warn"
    assert result.status == "fail"  # no beacon run in the file at all


def gemini_requests() -> list[Request]:
    spool = FIXTURES / "gemini-cli-0.61.0" / "spool.http-json.jsonl"
    return [("", orjson.loads(line)) for line in spool.read_bytes().splitlines()]


def test_each_harness_asked_for_is_counted(tmp_path: Path) -> None:
    requests = [*full_run("run-a")[:2], *gemini_requests(), *full_run("run-a")[2:]]
    result = run(tmp_path, "run-a", requests, harnesses=("claude_code", "gemini_cli"))
    status, message = stage(result.validation, "harness_events")
    assert status == "ok"
    counts = result.validation.harness_events
    assert set(counts) == {"claude_code", "gemini_cli"}
    assert counts["claude_code"] > 10 and counts["gemini_cli"] > 10
    assert f"claude_code {counts['claude_code']}, gemini_cli {counts['gemini_cli']}" in message
    assert result.validation.to_dict()["harness_events"] == counts


def test_a_silent_harness_is_named(tmp_path: Path) -> None:
    result = run(tmp_path, "run-a", full_run("run-a"), harnesses=("claude_code", "gemini_cli"))
    status, message = stage(result.validation, "harness_events")
    assert status == "fail"
    assert message.endswith("no events from gemini_cli")
    assert result.validation.harness_events["gemini_cli"] == 0
