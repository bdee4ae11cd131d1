"""Sanitize, truncate and the line cap, applied after redaction."""

from __future__ import annotations

from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.pipeline import PipelineOptions
from beacon.pipeline.sanitize import sanitize_text
from beacon.pipeline.truncate import MARKER, truncate_text
from beacon.pipeline.validate import validate_line

from .helpers import log_request, protected_lines
from .secret_strategies import any_secret

SMALL = PipelineOptions(
    session_id="run-1", log_path=Path("unused"), max_field_bytes=512, max_line_bytes=4096
)


def test_sanitize_strips_controls_and_ansi_but_keeps_newlines_and_tabs() -> None:
    assert sanitize_text("\x1b[31mred\x1b[0m\tok\nnext\x00\x07\x7f") == "red\tok\nnext"
    assert sanitize_text("lone \ud800 surrogate") == "lone \ufffd surrogate"
    assert sanitize_text("plain") == "plain"


def test_truncate_never_cuts_a_character_in_half() -> None:
    text = "é" * 100
    cut = truncate_text(text, 51)
    assert cut.endswith(MARKER)
    assert len(cut.encode()) <= 51
    cut.encode("utf-8")  # a valid string


def test_a_long_field_is_truncated_and_reported() -> None:
    command = "echo " + "x" * 5000
    (line,) = protected_lines(
        [log_request({"tool_name": "Bash", "full_command": command, "event.name": "tool_result"})],
        SMALL,
    )
    assert len(line["command"]["command"].encode()) <= 512
    assert line["command"]["command"].endswith(MARKER)
    assert line["field_truncated"] is True
    assert line["content"]["truncated"] is True
    assert "command.command" in line["beacon"]["truncated_fields"]
    assert "raw.full_command" in line["beacon"]["truncated_fields"]


def test_a_line_over_the_cap_shrinks_its_largest_fields_first() -> None:
    options = PipelineOptions(
        session_id="run-1", log_path=Path("unused"), max_field_bytes=3000, max_line_bytes=4096
    )
    attrs = {f"attr{n}": "v" * 2900 for n in range(4)}
    attrs.update({"tool_name": "Bash", "full_command": "echo small", "event.name": "tool_result"})
    (line,) = protected_lines([log_request(attrs)], options)
    assert len(orjson.dumps(line)) <= 4096
    assert line["command"]["command"] == "echo small"
    assert line["event"]["action"] == "command.executed"
    assert validate_line(line) is None


def test_control_characters_cannot_hide_a_secret() -> None:
    token = "ghp_" + "Ab1" * 12
    hidden = token[:6] + "\x00" + token[6:]
    (line,) = protected_lines(
        [log_request({"full_command": f"echo {hidden}", "tool_name": "Bash"})]
    )
    assert token not in orjson.dumps(line).decode()
    assert line["beacon"]["redactions"]["github_token"] >= 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=any_secret, offset=st.integers(min_value=0, max_value=600))
def test_no_secret_survives_across_a_truncation_boundary(
    secret: tuple[str, str, str], offset: int
) -> None:
    _family, text, value = secret
    command = "x" * offset + " " + text + " " + "y" * 600
    (line,) = protected_lines([log_request({"full_command": command, "tool_name": "Bash"})], SMALL)
    serialized = orjson.dumps(line).decode()
    half = max(8, len(value) // 2)
    assert value[:half] not in serialized
    assert value[-half:] not in serialized


def test_fields_that_sanitizing_empties_are_omitted_every_time() -> None:
    requests = [
        log_request({"event.name": "x", "session.id": "\x1b[0m"}, body="claude_code.\x00")
        for _ in range(3)
    ]
    for line in protected_lines(requests):
        assert "session" not in line
        assert validate_line(line) is None


def test_an_attribute_named_for_a_secret_has_its_whole_value_redacted() -> None:
    # No family matches these values: only the attribute's name says they are secrets.
    attributes = {
        "tool_name": "Bash",
        "db_password": "hunter2zz",
        "api_key": "plainvalue123",
        "CLIENT_SECRET": "Xyzzy9876",
        "token": "ab",  # too short to be one
        "input_tokens": "9553",  # not a secret's name
        "password": "[REDACTED:github_token]",  # already redacted: kept
    }
    (line,) = protected_lines([log_request(attributes)])
    raw = line["raw"]
    written = orjson.dumps(line).decode()
    for value in ("hunter2zz", "plainvalue123", "Xyzzy9876"):
        assert value not in written
    assert (
        raw["db_password"]
        == raw["api_key"]
        == raw["CLIENT_SECRET"]
        == "[REDACTED:secret_assignment]"
    )
    assert (raw["token"], raw["input_tokens"]) == ("ab", "9553")
    assert raw["password"] == "[REDACTED:github_token]"
    assert line["beacon"]["redactions"]["secret_assignment"] == 3
