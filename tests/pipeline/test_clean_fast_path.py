"""The clean-string fast path (``Redactor.is_clean``) never changes what is written.

``is_clean`` lets most strings skip the rule machinery. These properties hold it
to "no false positive": whenever it says clean, the full path leaves the string
untouched and counts nothing; and whole events come out byte-identical with the
fast path on and off, secrets of every family planted (bare, in JSON, URL-encoded,
behind control characters).
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.pipeline import PipelineOptions
from beacon.pipeline.normalize import NormalizeStats, normalize
from beacon.pipeline.protect import LineProtector
from beacon.pipeline.redact import _TABLES, ID_CHARACTERS, Redactor, trie_pattern
from beacon.pipeline.runner import make_context
from beacon.pipeline.sanitize import needs_sanitizing
from beacon.pipeline.secrets_rules import CONTEXT_RULES, TOKEN_RULES

from .secret_strategies import FILLER, any_secret

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENV_VALUE = "s3cr3t-Env-Value-42"  # a literal value, as from a secret environment variable


class _NeverClean(Redactor):
    """The full path for every string: what beacon did before the fast path."""

    def is_clean(self, text: str) -> bool:
        return False


def _planted(secret: tuple[str, str, str], before: str, how: str) -> str:
    text = f"{before} {secret[1]}"
    if how == "json":
        return json.dumps({"note": text, "k": [text]})
    if how == "url":
        return "https://example.test/cb?state=" + quote(text, safe="")
    if how == "control":
        middle = len(text) // 2
        return text[:middle] + "\x1b[0m\x07" + text[middle:]
    return text


planted = st.builds(
    _planted, any_secret, FILLER, st.sampled_from(["bare", "json", "url", "control"])
)
ANCHOR_CHARS = "".join(
    sorted({c for rule in TOKEN_RULES + CONTEXT_RULES for a in rule.anchors for c in a})
)
strings = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=ANCHOR_CHARS + string.ascii_uppercase + "%\\/u", max_size=60),
    planted,
    st.just(ENV_VALUE),
    st.text(max_size=20).map(lambda t: f"{t}{ENV_VALUE}{t}"),
    st.sampled_from(["claude-opus-4-8", "input_tokens", "npm test", "/home/runner/app.py"]),
    # ids, hashes, timestamps (the ID_CHARACTERS shortcut) and near misses of them
    st.text(alphabet=ID_CHARACTERS, max_size=70),
    st.text(alphabet=ID_CHARACTERS + "ACKS_GIyJ", max_size=70),
    st.text(alphabet=string.hexdigits, min_size=32, max_size=32).map(lambda h: f"AC{h}"),
)


@PROPERTY
@given(text=strings)
def test_clean_means_the_full_path_changes_nothing(text: str) -> None:
    for redactor in (Redactor(), Redactor(literal_values=(ENV_VALUE,))):
        if not redactor.is_clean(text):
            continue
        counts: dict[str, int] = {}
        assert _NeverClean(redactor.literal_values).redact_text(text, counts) == text
        assert counts == {}
        assert not needs_sanitizing(text)


def test_a_planted_secret_is_never_clean() -> None:
    redactor = Redactor(literal_values=(ENV_VALUE,))
    for text in (
        "token ghp_" + "a1" * 18,
        "x %67hp_abc",
        '{"a": "\\u0067hp_abc"}',
        "pre\x1bpost",
        f"the {ENV_VALUE} here",
    ):
        assert not redactor.is_clean(text), text
    assert not Redactor(user_patterns=(re.compile("zz"),)).is_clean("plain words")
    assert Redactor().is_clean("plain words, nothing else")


def test_ids_and_timestamps_are_clean_without_the_anchor_scan() -> None:
    # No anchor of the built-in rules can be spelled with these characters, so the
    # shortcut is on; its neighbours that do spell one are not taken for ids.
    assert not _TABLES.can_spell_an_anchor(ID_CHARACTERS)
    assert _TABLES.can_spell_an_anchor(ID_CHARACTERS + "AC")
    redactor = Redactor()
    for text in ("d23f0824-128b-2f33-0c5c-7fd0a6a3a450", "2026-11-29T00:41:52.338Z", "88"):
        assert redactor.is_clean(text)
    twilio = "AC" + "0123456789abcdef" * 2
    assert not redactor.is_clean(twilio)
    counts: dict[str, int] = {}
    assert redactor.redact_text(twilio, counts) == "[REDACTED:twilio_key]"
    # With literal values or user patterns nothing is taken for clean by its alphabet.
    assert not Redactor(literal_values=("0123456789",)).is_clean("x0123456789")
    assert not Redactor(literal_values=("0123456789",)).is_clean("0123456789")


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ANCHOR_CHARS + "AKISGCey.", max_size=120))
def test_the_trie_finds_what_the_flat_alternation_finds(text: str) -> None:
    words = sorted({a for rule in TOKEN_RULES + CONTEXT_RULES for a in rule.anchors}, key=len)
    flat = re.compile("|".join(re.escape(w) for w in reversed(words)))
    assert re.findall(trie_pattern(words), text) == flat.findall(text)


def _event(attrs: list[tuple[str, str]], body: str) -> tuple[str, dict[str, Any]]:
    record = {
        "timeUnixNano": "1795912906281000000",
        "body": {"stringValue": body},
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs],
    }
    scope = {"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": [record]}
    return "logs", {"resourceLogs": [{"resource": {}, "scopeLogs": [scope]}]}


KEYS = st.sampled_from(
    ["prompt", "tool_parameters", "tool_input", "full_command", "model", "session.id", "x"]
)
events = st.lists(
    st.builds(
        _event,
        st.lists(st.tuples(KEYS | st.text(max_size=10), strings), max_size=8),
        st.sampled_from(["claude_code.user_prompt", "claude_code.tool_result", "claude_code.x"]),
    ),
    min_size=1,
    max_size=4,
)
OPTIONS = PipelineOptions(
    session_id="run-1", log_path=Path("unused"), max_field_bytes=256, max_line_bytes=4096
)


def _protect_all(redactor: Redactor, requests: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    protector = LineProtector(redactor=redactor, max_field_bytes=256, max_line_bytes=4096)
    ctx = make_context(OPTIONS, protector)
    lines = [protector.protect(line) for line in normalize(requests, ctx, NormalizeStats())]
    return [*lines, orjson.dumps(protector.totals)]


@PROPERTY
@given(requests=events)
def test_events_are_written_identically_with_and_without_the_fast_path(
    requests: list[tuple[str, dict[str, Any]]],
) -> None:
    for literal_values in ((), (ENV_VALUE,)):
        fast = _protect_all(Redactor(literal_values=literal_values), requests)
        slow = _protect_all(_NeverClean(literal_values=literal_values), requests)
        assert fast == slow
