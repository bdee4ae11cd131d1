"""The report's figures from the recorded Claude Code runs, through the real pipeline."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from beacon.report import build_report, load_report, render_markdown, render_text
from beacon.report.models import normalize_model
from tests.pipeline.helpers import PROTOCOLS, fixture_requests, log_request

from .helpers import (
    fixture_run_requests,
    lines_of,
    otlp_log_records,
    otlp_usage,
    pipeline_log,
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("fixture-runs")
    return {
        protocol: load_report(
            pipeline_log(root, fixture_run_requests(protocol), name=str(i))
        ).to_dict()
        for i, protocol in enumerate(PROTOCOLS)
    }


def test_tokens_and_cost_equal_the_api_request_events(reports: dict[str, dict[str, Any]]) -> None:
    for protocol, report in reports.items():
        sent = otlp_usage(protocol)
        totals = report["totals"]
        assert totals["api"]["requests"] == sent["requests"] == 4, protocol
        for kind in ("input", "output", "cache_read", "cache_creation"):
            assert totals["tokens"][kind] == sent[kind], (protocol, kind)
        assert totals["cost_usd"] == pytest.approx(math.fsum(sent["cost"]), abs=1e-9)
        assert totals["requests_without_cost"] == 0


def test_spans_and_metrics_do_not_count_twice_and_agree(
    reports: dict[str, dict[str, Any]],
) -> None:
    """llm_request spans carry the same usage (in raw); metrics repeat it: one count."""
    for report in reports.values():
        metrics = report["totals"]["metrics"]
        assert metrics["agrees"] is True
        assert metrics["tokens"] == {
            k: v for k, v in report["totals"]["tokens"].items() if k != "total"
        }
        assert metrics["cost_usd"] == pytest.approx(report["totals"]["cost_usd"], abs=1e-9)


def test_model_names_group_with_and_without_the_context_suffix(
    reports: dict[str, dict[str, Any]],
) -> None:
    for protocol, report in reports.items():
        assert otlp_usage(protocol)["models"] == {"claude-opus-4-8"}
        (model,) = report["totals"]["models"]
        assert model["model"] == "claude-opus-4-8"
        assert model["requests"] == 4
    assert normalize_model("claude-opus-4-8[1m]") == "claude-opus-4-8"
    assert normalize_model(" Claude-Opus-4-8 [200k] ") == "claude-opus-4-8"
    assert normalize_model(None) == "unknown"


def test_commands_and_files_appear_once_though_event_and_span_both_report_them(
    reports: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    log = pipeline_log(tmp_path, fixture_run_requests("grpc"))
    executed = [line for line in lines_of(log) if line["event"]["action"] == "command.executed"]
    assert len(executed) == 2  # the tool_result event and the claude_code.tool span
    for protocol, report in reports.items():
        totals = report["totals"]
        assert totals["commands"]["runs"] == 1
        assert totals["commands"]["items"] == [{"command": "echo hi", "count": 1, "failures": 0}]
        assert totals["files"]["modified"]["items"] == [
            {"path": "/home/runner/work/app/app/hello.txt", "count": 1, "operations": ["write"]}
        ]
        assert totals["files"]["read"]["count"] == 0
        tools = {tool["name"]: tool for tool in totals["tools"]["by_name"]}
        assert {name: tool["count"] for name, tool in tools.items()} == {"Bash": 1, "Write": 1}
        # The event's duration (what Claude measured for the tool), not the span's.
        sent = {
            attrs["tool_name"]: int(attrs["duration_ms"])
            for body, attrs in otlp_log_records(protocol)
            if body == "claude_code.tool_result"
        }
        assert {name: tool["duration_ms"] for name, tool in tools.items()} == sent


def test_activity_per_session(reports: dict[str, dict[str, Any]]) -> None:
    for protocol, report in reports.items():
        prompts = {
            attrs["session.id"]: attrs["prompt"]
            for body, attrs in otlp_log_records(protocol)
            if body == "claude_code.user_prompt"
        }
        totals = report["totals"]
        assert totals["approvals"] == {"allowed": 2, "denied": 0, "denied_tools": {}}
        assert totals["lines"] == {"added": 3, "removed": 0}
        assert totals["prompts"] == {"count": 2, "texts": list(prompts.values())}
        sessions = {s["id"]: s for s in report["sessions"]}
        assert set(sessions) == set(prompts)
        for session_id, session in sessions.items():
            assert session["harness"] == "claude_code"
            assert session["prompts"]["texts"] == [prompts[session_id]]
            assert session["api"]["requests"] == 2
        assert sum(s["cost_usd"] for s in sessions.values()) == pytest.approx(
            totals["cost_usd"], abs=1e-9
        )
        assert [h["name"] for h in report["harnesses"]] == ["claude_code"]
        assert report["harnesses"][0]["versions"] == ["2.1.197"]


def test_three_protocols_give_the_same_figures(reports: dict[str, dict[str, Any]]) -> None:
    """Captures of one scripted run differ only in ids, clocks and measured durations."""

    def stable(report: dict[str, Any]) -> dict[str, Any]:
        totals = dict(report["totals"])
        totals["tools"] = [
            (t["name"], t["count"], t["failures"]) for t in totals["tools"]["by_name"]
        ]
        return {
            "totals": totals,
            # Metric points are split differently between captures (docs/runtime-schema.md).
            "by_action": {
                action: n
                for action, n in report["run"]["events"]["by_action"].items()
                if action != "metric.observed"
            },
            "sessions": len(report["sessions"]),
            "harnesses": [h["name"] for h in report["harnesses"]],
        }

    reference = stable(reports["http-json"])
    for protocol in ("grpc", "http-protobuf"):
        assert stable(reports[protocol]) == reference, protocol


def _line(action: str, **fields: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "timestamp": "2026-12-01T10:00:00.000Z",
        "event": {"action": action},
        "harness": {"name": fields.pop("harness", "codex"), "version": "1"},
        "beacon": {"session_id": fields.pop("run", "run-1"), "source": {"signal": "logs"}},
    }
    line.update(fields)
    return line


def _request(cost: float | None, *, harness: str = "codex", model: str = "gpt-5") -> dict[str, Any]:
    usage: dict[str, Any] = {"input_tokens": 10, "output_tokens": 5}
    if cost is not None:
        usage["cost_usd"] = cost
    return _line(
        "session.activity",
        harness=harness,
        model=model,
        session={"id": f"{harness}-session"},
        gen_ai={"usage": usage},
    )


def test_a_harness_without_cost_shows_cost_unknown_never_zero() -> None:
    report = build_report([_request(None), _request(None)])
    totals = report.to_dict()["totals"]
    assert totals["cost_usd"] is None
    assert totals["requests_without_cost"] == 2
    assert totals["tokens"]["input"] == 20
    assert totals["models"][0]["cost_usd"] is None
    assert "cost unknown" in render_text(report)
    markdown = render_markdown(report)
    assert "| unknown |" in markdown
    assert "$0" not in markdown and "$0" not in render_text(report)


def test_mixed_harnesses_keep_the_known_cost_per_harness() -> None:
    report = build_report(
        [_request(0.25, harness="claude_code", model="claude-opus-4-8[1m]"), _request(None)]
    ).to_dict()
    assert report["totals"]["cost_usd"] is None
    by_name = {h["name"]: h for h in report["harnesses"]}
    assert by_name["claude_code"]["cost_usd"] == 0.25
    assert by_name["codex"]["cost_usd"] is None
    assert {m["model"]: m["cost_usd"] for m in report["totals"]["models"]} == {
        "claude-opus-4-8": 0.25,
        "gpt-5": None,
    }


def test_a_request_delivered_twice_is_counted_once() -> None:
    twice = _request(0.5, harness="claude_code")
    twice["gen_ai"]["response"] = {"id": "req_1"}
    report = build_report([twice, twice]).to_dict()
    assert report["totals"]["api"]["requests"] == 1
    assert report["totals"]["cost_usd"] == 0.5


def test_errors_retries_and_exhausted_retries() -> None:
    session = {"id": "s1"}
    lines = [
        _line(
            "session.error",
            harness="claude_code",
            session=session,
            message="claude_code.api_error",
            error={"type": "Overloaded"},
            rpc={"response": {"status_code": "529"}},
            raw={"attempt": 3},
        ),
        _line(
            "session.error",
            harness="claude_code",
            session=session,
            error={"type": "api_retries_exhausted"},
            message="claude_code.api_retries_exhausted",
        ),
    ]
    api = build_report(lines).to_dict()["totals"]["api"]
    assert api == {
        "requests": 0,
        "errors": 1,
        "retries": 2,
        "retries_exhausted": 1,
        "error_types": {"Overloaded (529)": 1},
    }


def test_the_most_recent_run_unless_one_is_named() -> None:
    older = _request(1.0, harness="claude_code")
    older["beacon"]["session_id"] = "older"
    newer = _request(2.0, harness="claude_code")
    newer["beacon"]["session_id"] = "newer"
    assert build_report([older, newer]).session_id == "newer"
    named = build_report([older, newer], session_id="older")
    assert (named.session_id, named.totals.cost_usd) == ("older", 1.0)
    result = {"session_id": "newer", "exit_code": 0, "validation": {"status": "ok"}}
    assert build_report([older, newer], session_id="older", result=result).result is None
    assert build_report([older, newer], result=result).status == "ok"


def test_failed_tools_and_denied_approvals() -> None:
    session = {"id": "s1"}
    lines = [
        _line(
            "tool.failed",
            harness="claude_code",
            session=session,
            tool={"name": "Bash", "command": "false"},
            command={"command": "false", "duration_ms": 12},
            gen_ai={"tool": {"call": {"id": "t1"}}},
        ),
        _line(
            "approval.denied",
            harness="claude_code",
            session=session,
            tool={"name": "Write"},
        ),
    ]
    totals = build_report(lines).to_dict()["totals"]
    assert totals["tools"]["failures"] == 1
    assert totals["commands"]["items"] == [{"command": "false", "count": 1, "failures": 1}]
    assert totals["approvals"] == {"allowed": 0, "denied": 1, "denied_tools": {"Write": 1}}
    assert totals["lines"] == {"added": None, "removed": None}  # no metric: unknown


def test_redactions_by_family_per_session(tmp_path: Path) -> None:
    token = "ghp_" + "A1b2C3d4" * 5
    requests = [
        log_request(
            {"session.id": "s-1", "prompt": f"use {token} please", "event.name": "user_prompt"},
            body="claude_code.user_prompt",
        ),
        log_request(
            {
                "session.id": "s-2",
                "tool_name": "Bash",
                "success": "true",
                "tool_parameters": json.dumps({"full_command": f"curl -H 'x: {token}' a"}),
            },
        ),
    ]
    log = pipeline_log(tmp_path, requests)
    assert token not in log.read_text()
    report = load_report(log).to_dict()
    assert report["totals"]["redactions"].get("github_token", 0) >= 2
    by_session = {s["id"]: s["redactions"] for s in report["sessions"]}
    assert by_session["s-1"].get("github_token", 0) >= 1
    assert by_session["s-2"].get("github_token", 0) >= 1
    assert token not in render_markdown(load_report(log))
    (command,) = report["totals"]["commands"]["items"]
    assert token not in command["command"] and "curl" in command["command"]


def test_an_appended_log_reports_the_named_or_the_latest_run(tmp_path: Path) -> None:
    spool_log = pipeline_log(tmp_path, fixture_run_requests("grpc"), session_id="run-a", name="a")
    alone = load_report(spool_log).to_dict()["totals"]
    appended = tmp_path / "runtime.jsonl"
    first = spool_log.read_bytes()
    second = pipeline_log(tmp_path, fixture_requests("http-json"), session_id="run-b", name="b")
    appended.write_bytes(first + second.read_bytes())
    latest = load_report(appended)
    assert latest.session_id == "run-b"
    assert latest.totals.requests == 2
    named = load_report(appended, session_id="run-a").to_dict()["totals"]
    assert named == alone
