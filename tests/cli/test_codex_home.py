"""``--harness codex``: a beacon-owned CODEX_HOME that merges the user's, never replaces it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from beacon.agents.codex import prepare_codex_home, remove_codex_home, without_otel
from beacon.agents.harnesses import (
    Switches,
    prepare_files,
    resolve_harnesses,
    telemetry_environment,
)
from beacon.errors import UsageError

ENDPOINT = "http://127.0.0.1:4318"
USER_CONFIG = """model = "gpt-5"
approval_policy = "on-request"

[otel]
environment = "dev"
exporter = { otlp-http = { endpoint = "https://otel.example/v1/logs", protocol = "json" } }

[otel.extra]
x = 1

[model_providers.corp]
base_url = "https://llm.corp/v1"
"""


def user_home(tmp_path: Path) -> Path:
    home = tmp_path / "user-codex"
    home.mkdir(parents=True)
    (home / "config.toml").write_text(USER_CONFIG)
    (home / "auth.json").write_text('{"OPENAI_API_KEY": "sk-user"}')
    (home / "sessions").mkdir()
    return home


def prepare(tmp_path: Path, protocol: str = "http/protobuf", **switches: bool) -> Path:
    return prepare_codex_home(
        tmp_path / "base",
        {"CODEX_HOME": str(user_home(tmp_path))},
        protocol=protocol,
        endpoint=ENDPOINT if protocol != "grpc" else "http://127.0.0.1:4317",
        token="tok123",
        prompts=switches.get("prompts", True),
        traces=switches.get("traces", True),
    )


def test_user_files_are_linked_and_config_merged(tmp_path: Path) -> None:
    home = prepare(tmp_path)
    assert (home / "auth.json").is_symlink()
    assert (home / "auth.json").read_text() == '{"OPENAI_API_KEY": "sk-user"}'
    assert (home / "sessions").resolve() == (tmp_path / "user-codex" / "sessions").resolve()
    config = tomllib.loads((home / "config.toml").read_text())
    assert config["model"] == "gpt-5"
    assert config["approval_policy"] == "on-request"
    assert config["model_providers"]["corp"]["base_url"] == "https://llm.corp/v1"
    otel = config["otel"]
    assert "extra" not in otel and otel["environment"] == "ci"
    assert otel["log_user_prompt"] is True
    for key, signal in (
        ("exporter", "logs"),
        ("metrics_exporter", "metrics"),
        ("trace_exporter", "traces"),
    ):
        http = otel[key]["otlp-http"]
        assert http["endpoint"] == f"{ENDPOINT}/v1/{signal}"  # Codex uses it verbatim
        assert http["protocol"] == "binary"
        assert http["headers"] == {"authorization": "Bearer tok123"}
    # The user's own file is untouched.
    assert (tmp_path / "user-codex" / "config.toml").read_text() == USER_CONFIG
    assert oct((home / "config.toml").stat().st_mode & 0o777) == "0o600"


def test_grpc_json_and_switches(tmp_path: Path) -> None:
    config = tomllib.loads((prepare(tmp_path, "grpc").joinpath("config.toml")).read_text())
    assert config["otel"]["exporter"]["otlp-grpc"]["endpoint"] == "http://127.0.0.1:4317"
    config = tomllib.loads(
        prepare(tmp_path / "j", "http/json", prompts=False, traces=False)
        .joinpath("config.toml")
        .read_text()
    )
    assert config["otel"]["exporter"]["otlp-http"]["protocol"] == "json"
    assert config["otel"]["log_user_prompt"] is False
    assert config["otel"]["trace_exporter"] == "none"
    assert config["otel"]["metrics_exporter"]["otlp-http"]["endpoint"].endswith("/v1/metrics")


def test_without_a_user_home_only_beacons_table(tmp_path: Path) -> None:
    home = prepare_codex_home(
        tmp_path / "base",
        {"HOME": str(tmp_path / "nobody")},
        protocol="http/json",
        endpoint=ENDPOINT,
        token="t",
        prompts=True,
        traces=True,
    )
    assert sorted(p.name for p in home.iterdir()) == ["config.toml"]
    assert set(tomllib.loads((home / "config.toml").read_text())) == {"otel"}


def test_otel_outside_a_table_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="otel outside an \\[otel\\] table"):
        without_otel('otel.environment = "dev"\n')
    with pytest.raises(UsageError, match="cannot read the Codex config"):
        without_otel("model = \n")


def test_harness_env_points_codex_home_there(tmp_path: Path) -> None:
    harnesses = resolve_harnesses("claude,codex,gemini")
    files = prepare_files(
        harnesses,
        tmp_path / "base",
        {"HOME": str(tmp_path)},
        protocol="http/protobuf",
        endpoint=ENDPOINT,
        token="t",
        switches=Switches(),
    )
    env = telemetry_environment(
        harnesses=harnesses,
        protocol="http/protobuf",
        endpoint=ENDPOINT,
        token="t",
        session_id="s",
        job_environ={},
        files=files,
    )
    assert env["CODEX_HOME"] == str(tmp_path / "base" / "codex-home")
    assert env["GEMINI_TELEMETRY_ENABLED"] == "true"
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    remove_codex_home(tmp_path / "base")
    assert not (tmp_path / "base" / "codex-home").exists()
