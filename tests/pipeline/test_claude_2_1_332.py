"""Claude Code 2.1.332 recordings: every field that version added is handled deliberately.

The recordings (``tests/fixtures/claude-code-2.1.332``) are one ``claude -p`` run with a
Bash call, over gRPC and HTTP/protobuf, and a run with ``OTEL_METRICS_INCLUDE_REPOSITORY``
and ``OTEL_RESOURCE_INCLUDE_HOST`` (``*.include-repo-host``, logs and metrics only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beacon.pipeline import PipelineOptions
from beacon.pipeline.content import withheld_attributes
from beacon.pipeline.validate import validate_line

from .helpers import CLAUDE_2_1_332, fixture_requests, log_request, protected_lines
from .test_golden import _canonical

PROTOCOLS = ("grpc", "http-protobuf")
PROMPT = "Run echo hi in bash"
SESSION = "e1de5e78-2896-4dfa-b3af-34792613224d"  # the http/protobuf recording's


def lines_of(protocol: str, options: PipelineOptions | None = None) -> list[dict[str, Any]]:
    return protected_lines(fixture_requests(protocol, directory=CLAUDE_2_1_332), options)


def repo_run(options: PipelineOptions | None = None) -> list[dict[str, Any]]:
    requests = fixture_requests(
        "http-protobuf", ".include-repo-host", CLAUDE_2_1_332, signals=("logs", "metrics")
    )
    return protected_lines(requests, options)


def by_event(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["beacon"]["source"].get("event_name") == name]


def options(**kwargs: Any) -> PipelineOptions:
    return PipelineOptions(session_id="run-1", log_path=Path("unused"), **kwargs)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_line_matches_the_schema(protocol: str) -> None:
    lines = lines_of(protocol)
    assert lines
    for line in lines:
        assert validate_line(line) is None, line
        assert line["harness"] == {"name": "claude_code", "version": "2.1.332"}, line


def test_both_protocols_give_the_same_lines() -> None:
    assert _canonical(lines_of("grpc")) == _canonical(lines_of("http-protobuf"))


def test_startup_events_keep_their_session_and_say_what_was_in_force() -> None:
    lines = lines_of("http-protobuf")
    (settings,) = by_event(lines, "claude_code.managed_settings_resolved")
    plugins = by_event(lines, "claude_code.plugin_loaded")
    for line in [settings, *plugins]:
        assert line["event"]["action"] == "session.status"
        assert line["session"]["id"] == SESSION
        assert "trace" not in line
    assert settings["message"] == (
        "managed settings resolved (startup): sources none; first-wins; helper none (applied none)"
    )
    assert [line["message"] for line in plugins] == [
        f"plugin loaded: {name} from builtin (default-bundle, via default-enable; hooks)"
        for name in ("cc-plugin-agents-md", "cc-plugin-privacy", "cc-plugin-plugin-authoring")
    ]
    assert plugins[0]["raw"]["plugin_id_hash"] == "da63145d0acbb62d"


def test_plugin_description_names_mcp_and_safe_mode() -> None:
    attrs = {
        "event.name": "plugin_loaded",
        "plugin.name": "acme-tools",
        "marketplace.name": "acme",
        "plugin.scope": "project",
        "has_hooks": False,
        "has_mcp": True,
        "safe_mode": "true",
    }
    (line,) = protected_lines([log_request(attrs, body="claude_code.plugin_loaded")])
    assert line["message"] == "plugin loaded: acme-tools from acme (project; mcp, safe mode)"
    assert validate_line(line) is None


def test_managed_settings_lists_its_sources() -> None:
    request = log_request(
        {"event.name": "managed_settings_resolved", "managed_settings.trigger": "startup"},
        body="claude_code.managed_settings_resolved",
    )
    record = request[1]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["attributes"].append(
        {
            "key": "managed_settings.sources",
            "value": {
                "arrayValue": {
                    "values": [{"stringValue": "/etc/claude-code"}, {"stringValue": "mdm"}]
                }
            },
        }
    )
    (line,) = protected_lines([request])
    assert line["message"] == "managed settings resolved (startup): sources /etc/claude-code, mdm"


def test_retention_sweep_says_what_it_deleted() -> None:
    attrs = {
        "event.name": "retention_sweep",
        "result": "complete",
        "period_days": "30",
        "transcripts_deleted": "2",
        "session_files_deleted": "0",
        "artifacts_deleted": "1",
        "session.id": "s-1",
    }
    (line,) = protected_lines([log_request(attrs, body="claude_code.retention_sweep")])
    assert line["event"]["action"] == "session.status"
    assert line["session"]["id"] == "s-1"
    assert line["message"] == (
        "retention sweep complete: 2 transcripts, 0 session files, 1 artifacts deleted "
        "(30-day retention)"
    )


def test_prompt_text_is_the_prompt_when_prompt_is_absent() -> None:
    (line,) = protected_lines(
        [log_request({"prompt_text": "only here"}, body="claude_code.user_prompt")]
    )
    assert line["prompt"] == {"text": "only here"}
    (redacted,) = protected_lines(
        [
            log_request(
                {"prompt": "<REDACTED>", "prompt_text": "<REDACTED>"},
                body="claude_code.user_prompt",
            )
        ]
    )
    assert "prompt" not in redacted


def test_prompt_text_is_redacted_and_truncated_like_prompt() -> None:
    token = "ghp_" + "A1b2C3d4" * 4 + "E5f6"
    text = f"use {token} " + "x" * 2000
    (line,) = protected_lines(
        [log_request({"prompt": text, "prompt_text": text}, body="claude_code.user_prompt")],
        options(max_field_bytes=512),
    )
    assert token not in str(line)
    assert line["raw"]["prompt"] == line["raw"]["prompt_text"] == line["prompt"]["text"]
    assert line["beacon"]["redactions"]
    assert {"raw.prompt", "raw.prompt_text", "prompt.text"} <= set(
        line["beacon"]["truncated_fields"]
    )


def test_no_prompts_withholds_prompt_text_everywhere() -> None:
    withheld = withheld_attributes(prompts=False, tool_details=True)
    lines = lines_of("grpc", options(withheld=withheld))
    text = str(lines)
    assert PROMPT not in text
    (prompt,) = [line for line in lines if line["event"]["action"] == "prompt.submitted"]
    assert "prompt" not in prompt
    assert {"prompt", "prompt_text"}.isdisjoint(prompt["raw"])
    assert prompt["raw"]["prompt_length"] == "19"
    (interaction,) = by_event(lines, "claude_code.interaction")
    assert "user_prompt" not in interaction["raw"]


def test_api_request_fills_usage_time_to_first_chunk_and_keeps_the_split() -> None:
    requests = by_event(lines_of("http-protobuf"), "claude_code.api_request")
    assert len(requests) == 2
    for line in requests:
        usage = line["gen_ai"]["usage"]
        assert usage["cache_creation"]["input_tokens"] == 0
        assert usage["input_tokens"] == 120 and usage["output_tokens"] == 30
        assert line["raw"]["cache_creation_5m_tokens"] == 0
        assert line["raw"]["cache_creation_1h_tokens"] == 0
        assert line["model"] == "claude-opus-5-5"
    assert [line["gen_ai"]["response"]["time_to_first_chunk"] for line in requests] == [
        0.038,
        0.035,
    ]


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"cache_creation_5m_tokens": "300", "cache_creation_1h_tokens": "200"}, 500),
        (
            {
                "cache_creation_tokens": "500",
                "cache_creation_5m_tokens": "300",
                "cache_creation_1h_tokens": "200",
            },
            500,
        ),
        ({"cache_creation_tokens": "42"}, 42),
        ({"cache_creation_tokens": "10", "cache_creation_1h_tokens": "25"}, 25),
    ],
)
def test_cache_creation_split_adds_up(attrs: dict[str, str], expected: int) -> None:
    (line,) = protected_lines([log_request(attrs, body="claude_code.api_request")])
    assert line["gen_ai"]["usage"]["cache_creation"]["input_tokens"] == expected
    for key, value in attrs.items():
        assert line["raw"][key] == value


def test_spans_fill_gen_ai_fields_but_not_usage() -> None:
    lines = lines_of("http-protobuf")
    spans = [line for line in lines if line["beacon"]["source"]["signal"] == "traces"]
    assert len(spans) == 6
    for line in spans:
        assert line["gen_ai"]["conversation"]["id"] == SESSION
        assert line["gen_ai"]["provider"]["name"] == "anthropic"
        assert "usage" not in line["gen_ai"]
    operations = {
        line["beacon"]["source"]["event_name"]: line["gen_ai"].get("operation", {}).get("name")
        for line in spans
    }
    assert operations["claude_code.interaction"] == "invoke_agent"
    assert operations["claude_code.llm_request"] == "chat"
    assert operations["claude_code.tool"] == "execute_tool"
    llm = by_event(lines, "claude_code.llm_request")
    assert [line["gen_ai"]["response"]["finish_reasons"] for line in llm] == [
        ["tool_use"],
        ["end_turn"],
    ]
    assert all(line["gen_ai"]["response"]["model"] == "claude-opus-5-5" for line in llm)
    assert all(line["raw"]["gen_ai.usage.input_tokens"] == 120 for line in llm)
    carriers = [line for line in lines if "usage" in line.get("gen_ai", {})]
    assert carriers == by_event(lines, "claude_code.api_request")


def test_tool_span_command_and_bash_argv0() -> None:
    (tool,) = by_event(lines_of("grpc"), "claude_code.tool")
    assert tool["event"]["action"] == "command.executed"
    assert tool["command"]["command"] == "echo hi"
    assert tool["raw"]["bash_argv0"] == "echo"
    withheld = withheld_attributes(prompts=True, tool_details=False)
    (hidden,) = by_event(lines_of("grpc", options(withheld=withheld)), "claude_code.tool")
    assert hidden["event"]["action"] == "command.executed"
    assert "command" not in hidden.get("command", {})
    assert {"bash_argv0", "full_command"}.isdisjoint(hidden["raw"])
    assert hidden["raw"]["bash_command_class"] == "shell_builtin"


def test_bash_argv0_is_redacted_as_content() -> None:
    token = "ghp_" + "Z9y8X7w6" * 4 + "V5u4"
    span_attrs = [
        {"key": "span.type", "value": {"stringValue": "tool"}},
        {"key": "tool_name", "value": {"stringValue": "Bash"}},
        {"key": "bash_argv0", "value": {"stringValue": token}},
    ]
    request = (
        "traces",
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": []},
                    "scopeSpans": [
                        {
                            "scope": {"name": "com.anthropic.claude_code.tracing"},
                            "spans": [{"name": "claude_code.tool", "attributes": span_attrs}],
                        }
                    ],
                }
            ]
        },
    )
    (line,) = protected_lines([request])
    assert token not in str(line)
    assert line["content"]["redacted"] is True


def test_vcs_attributes_fill_the_repository_when_ci_gives_none() -> None:
    lines = repo_run()
    with_vcs = [line for line in lines if "vcs.repository.name" in line["raw"]]
    assert len(with_vcs) > 10
    assert {line["repository"] for line in with_vcs} == {"example-org/example-repo"}
    # The start-up events came before the client knew the repository.
    (settings,) = by_event(lines, "claude_code.managed_settings_resolved")
    assert "repository" not in settings
    for line in lines:
        assert validate_line(line) is None


def test_ci_repository_wins_over_vcs_attributes() -> None:
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "ci-org/ci-repo"}
    lines = repo_run(options(environ=environ))
    assert {line.get("repository") for line in lines} == {"ci-org/ci-repo"}


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"vcs.repository.url.full": "https://user:s3cret@git.example/acme/app.git"}, "acme/app"),
        ({"vcs.repository.url.full": "git@github.com:acme/app.git"}, "acme/app"),
        ({"vcs.repository.name": "app"}, "app"),
    ],
)
def test_repository_from_a_url_never_keeps_host_or_credentials(
    attrs: dict[str, str], expected: str
) -> None:
    (line,) = protected_lines([log_request(attrs, body="claude_code.api_request")])
    assert line["repository"] == expected
