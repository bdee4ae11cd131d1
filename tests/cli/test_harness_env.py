"""The telemetry environment is data: what each harness and switch sets."""

from __future__ import annotations

import pytest

from beacon.agents.harnesses import (
    HARNESSES,
    Switches,
    merge_resource_attributes,
    protocol_notes,
    resolve_harnesses,
    telemetry_environment,
)
from beacon.errors import UsageError

ENDPOINT = "http://127.0.0.1:4318"


def env_for(spec: str = "claude", protocol: str = "http/protobuf", job=None, **switches):
    return telemetry_environment(
        harnesses=resolve_harnesses(spec),
        protocol=protocol,
        endpoint=ENDPOINT,
        token="tok123",
        session_id="sess1",
        job_environ=job or {},
        switches=Switches(**switches),
    )


def test_claude_defaults_turn_everything_on() -> None:
    env = env_for()
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == ENDPOINT
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == "authorization=Bearer%20tok123"
    assert env["OTEL_TRACES_EXPORTER"] == "otlp"
    assert env["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] == "1"
    assert env["OTEL_LOG_USER_PROMPTS"] == "1"
    assert env["OTEL_LOG_TOOL_DETAILS"] == "1"
    assert env["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"] == "delta"
    assert int(env["CLAUDE_CODE_OTEL_SHUTDOWN_TIMEOUT_MS"]) >= 10000
    assert int(env["OTEL_LOGS_EXPORT_INTERVAL"]) <= 1000
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "beacon.session.id=sess1,beacon.origin=ci"


def test_switches_drop_their_variables() -> None:
    env = env_for(traces=False, prompts=False, tool_details=False)
    for name in (
        "OTEL_TRACES_EXPORTER",
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA",
        "OTEL_LOG_USER_PROMPTS",
        "OTEL_LOG_TOOL_DETAILS",
    ):
        assert name not in env
    assert env["OTEL_LOGS_EXPORTER"] == "otlp"


@pytest.mark.parametrize("alias", ["claude", "claude_code", "CLAUDE", " claude-code "])
def test_claude_aliases(alias: str) -> None:
    assert [h.name for h in resolve_harnesses(alias)] == ["claude_code"]


def test_comma_list_and_repeats() -> None:
    assert [h.name for h in resolve_harnesses("claude,otel,claude")] == ["claude_code", "otel"]
    assert [h.name for h in resolve_harnesses(["otel", "claude"])] == ["otel", "claude_code"]


def test_unknown_harness_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown harness 'codez'"):
        resolve_harnesses("codez")


def test_otel_harness_shortens_batch_delays() -> None:
    env = env_for("otel")
    assert env["OTEL_BLRP_SCHEDULE_DELAY"] == "1000"
    assert env["OTEL_BSP_SCHEDULE_DELAY"] == "1000"
    assert "CLAUDE_CODE_ENABLE_TELEMETRY" not in env


def test_harnesses_never_disagree_on_a_shared_variable() -> None:
    seen: dict[str, str] = {}
    for harness in HARNESSES:
        for rule in harness.rules:
            assert seen.setdefault(rule.name, rule.value) == rule.value, rule.name


def test_per_signal_overrides_replace_only_what_the_job_set() -> None:
    job = {
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://elsewhere.example/v1/logs",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-api-key=abc",
    }
    env = env_for(job=job)
    assert env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] == f"{ENDPOINT}/v1/logs"
    assert env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_EXPORTER_OTLP_METRICS_HEADERS"] == "authorization=Bearer%20tok123"
    assert "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" not in env


def test_grpc_per_signal_endpoint_is_the_base() -> None:
    job = {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://x:4317"}
    env = env_for(protocol="grpc", job=job)
    assert env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] == ENDPOINT


def test_resource_attributes_merge_with_the_jobs_own() -> None:
    merged = merge_resource_attributes(
        "team=a%20b,beacon.session.id=old,service.namespace=ci", "new id"
    )
    assert merged == "team=a%20b,service.namespace=ci,beacon.session.id=new%20id,beacon.origin=ci"


@pytest.mark.parametrize(
    ("protocol", "spoken", "noted"),
    [("grpc", "grpc", False), ("http/protobuf", "http", True), ("http/json", "http", True)],
)
def test_gemini_is_configured_by_its_own_variables(protocol: str, spoken: str, noted: bool) -> None:
    env = env_for("gemini", protocol)
    assert env["GEMINI_TELEMETRY_ENABLED"] == "true"
    assert env["GEMINI_TELEMETRY_TARGET"] == "local"
    assert env["GEMINI_TELEMETRY_OTLP_ENDPOINT"] == ENDPOINT
    assert env["GEMINI_TELEMETRY_OTLP_PROTOCOL"] == spoken
    assert env["GEMINI_TELEMETRY_LOG_PROMPTS"] == "true"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == "authorization=Bearer%20tok123"
    assert "CLAUDE_CODE_ENABLE_TELEMETRY" not in env
    assert bool(protocol_notes(resolve_harnesses("gemini"), protocol)) == noted


def test_gemini_prompt_logging_is_turned_off_explicitly() -> None:
    # Its default is on: leaving the variable unset would log prompts.
    env = env_for("gemini", prompts=False)
    assert env["GEMINI_TELEMETRY_LOG_PROMPTS"] == "false"
    assert env_for("gemini", traces=False)["GEMINI_TELEMETRY_TRACES_ENABLED"] == "false"


def test_claude_and_gemini_in_one_environment() -> None:
    env = env_for("claude,gemini", "http/json")
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["GEMINI_TELEMETRY_OTLP_PROTOCOL"] == "http"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/json"
    assert [h.name for h in resolve_harnesses("claude,gemini")] == ["claude_code", "gemini_cli"]
