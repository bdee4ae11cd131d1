"""The line scan (``linescan``) never lets a line skip a redaction the walk would make.

Differential: whenever the scan of a serialized line finds no trigger, the full
``protect()`` (every string through the rules, no clean-string shortcut) returns
those very bytes and counts nothing. The lines carry secrets of every family
from the corpora (bare, inside JSON text, URL- and fully percent-encoded, JSON
\\u-escaped, behind control characters, with Unicode case tricks), environment
literals and the benign corpus. Then: a scanner built without one trigger lets
a counterexample through, found by the same strategies (so the tests would
catch a scan that forgot it), and orjson's escaping, which the scan relies on,
is pinned character class by character class.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import os
import string
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from beacon.pipeline.linescan import (
    LOWER_TO_ASCII,
    BenignKeys,
    LineScanner,
    available_engine,
    build_scanner,
    escaped,
    scanner_for,
    triggers,
)
from beacon.pipeline.protect import LineProtector
from beacon.pipeline.redact import Redactor
from beacon.pipeline.secrets_rules import CONTEXT_RULES, TOKEN_RULES

from .secret_strategies import FAMILIES, FILLER, any_secret
from .test_clean_fast_path import _NeverClean

# `nox -s fuzz` runs these with many more examples.
EXAMPLES = int(os.environ.get("BEACON_FUZZ_EXAMPLES", "100"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENV_VALUE = 's3cr3t-"Env"\\Value/42'  # a literal value with characters JSON escapes
BENIGN = Path(__file__).resolve().parents[1] / "fixtures" / "benign"
BENIGN_LINES = sorted(
    {
        line
        for path in sorted(BENIGN.iterdir())
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    }
)
# Every engine installed here (the test extra installs RE2 too), and Python's re as the
# reference.
ENGINES = [e for e in ("hyperscan", "re2") if importlib.util.find_spec(e) is not None] + ["re"]


def _percent_all(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


def _json_unicode_escaped(text: str) -> str:
    # A JSON document whose string spells every character as \uXXXX.
    return '{"cmd": "' + "".join(f"\\u{ord(c):04x}" for c in text if ord(c) < 0x10000) + '"}'


def _case_trick(text: str) -> str:
    # Characters whose lower-case form is ASCII: the rules' case-blind regexes still match.
    return text.replace("k", "\u212a").replace("K", "\u212a").replace("i", "\u0130")


def _split_by_control(text: str, control: str) -> str:
    middle = len(text) // 2
    return text[:middle] + control + text[middle:]


HOW = ("bare", "json", "url", "percent_all", "json_u", "control", "backspace", "case", "env")


def _planted(secret: tuple[str, str, str], before: str, how: str) -> str:
    text = f"{before} {secret[1]}"
    if how == "json":
        return json.dumps({"note": text, "k": [text]})
    if how == "url":
        return "https://example.test/cb?state=" + "".join(
            c if c.isalnum() else f"%{ord(c):02X}" for c in text
        )
    if how == "percent_all":
        return "state=" + _percent_all(text)
    if how == "json_u":
        return _json_unicode_escaped(text)
    if how == "control":
        return _split_by_control(text, "\x1b[0m\x07")
    if how == "backspace":
        return _split_by_control(text, "\x08")
    if how == "case":
        return _case_trick(text)
    if how == "env":
        return f"{before} {ENV_VALUE} {before}"
    return text


def planted(
    how: st.SearchStrategy[str], secrets: st.SearchStrategy[tuple[str, str, str]] = any_secret
) -> st.SearchStrategy[str]:
    return st.builds(_planted, secrets, FILLER, how)


def family(name: str) -> st.SearchStrategy[tuple[str, str, str]]:
    return FAMILIES[name].map(lambda pair: (name, *pair))


ANCHORS = sorted(
    {a for rule in TOKEN_RULES + CONTEXT_RULES for a in rule.anchors + rule.anchors_cs}
)
strings = st.one_of(
    planted(st.sampled_from(HOW)),
    st.sampled_from(BENIGN_LINES),
    st.sampled_from(ANCHORS).map(_case_trick),
    st.text(max_size=40),
    st.text(alphabet="".join(sorted(set("".join(ANCHORS)))) + "%\\/u\u212a\u0130", max_size=30),
    st.sampled_from(["claude-opus-4-8", "input_tokens", "npm test", "/home/runner/app.py"]),
)


def _line(values: list[str], key: str) -> dict[str, Any]:
    """A runtime-shaped line with the strings where the walk meets them: values, keys,
    nested objects and lists, the client-chosen source names."""
    return {
        "timestamp": "2026-11-29T00:41:52.338Z",
        "event": {"kind": "agent_runtime", "action": "tool.completed", "category": "tool"},
        "severity": "info",
        "content": {"redacted": False, "truncated": False},
        "message": values[0] if values else "",
        "tool": {"name": "Bash", "input": {key: values}},
        "raw": {key: values[-1] if values else 1, "n": 3},
        "beacon": {
            "session_id": "run-1",
            "source": {"signal": "logs", "event_name": values[0] if values else "x"},
        },
    }


lines = st.builds(_line, st.lists(strings, min_size=1, max_size=4), strings)


@functools.cache
def _scanner(engine: str, literal_values: tuple[str, ...]) -> LineScanner:
    # Built once per engine: a hyperscan database takes ~40 ms to compile.
    scanner = scanner_for(Redactor(literal_values=literal_values), engine)
    assert scanner is not None
    return scanner


def _full_protect(line: dict[str, Any], literal_values: tuple[str, ...]) -> tuple[bytes, Any]:
    protector = LineProtector(
        redactor=_NeverClean(literal_values=literal_values), max_field_bytes=8192
    )
    return protector.protect(copy.deepcopy(line)), protector.totals


@PROPERTY
@given(line=lines)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_clean_scan_means_the_full_protect_changes_nothing(
    engine: str, line: dict[str, Any]
) -> None:
    for literal_values in ((), (ENV_VALUE,)):
        redactor = Redactor(literal_values=literal_values)
        scanner = _scanner(engine, literal_values)
        # What protect() writes when the scan (with the length and event-name checks
        # around it) says the walk would change nothing.
        unchanged = LineProtector(redactor=redactor, scanner=scanner)._unchanged(
            copy.deepcopy(line)
        )
        if unchanged is None:
            continue
        assert not scanner.hits(unchanged)
        written, counts = _full_protect(line, literal_values)
        assert written == unchanged
        assert counts == {}


@PROPERTY
@given(line=lines)
def test_protect_writes_the_same_with_the_scan_as_without(line: dict[str, Any]) -> None:
    for literal_values in ((), (ENV_VALUE,)):
        redactor = Redactor(literal_values=literal_values)
        fast = LineProtector(redactor=redactor, scanner=_scanner(ENGINES[0], literal_values))
        slow = LineProtector(redactor=Redactor(literal_values=literal_values))
        assert fast.protect(copy.deepcopy(line)) == slow.protect(copy.deepcopy(line))
        assert fast.totals == slow.totals


KEY = st.just("x")


def _counterexample(
    skip: bytes, how: str, secrets: st.SearchStrategy[tuple[str, str, str]]
) -> dict[str, Any]:
    """A line that a scanner without ``skip`` calls clean but protect() changes."""
    anchors, anchors_cs = Redactor().anchors()
    found = triggers(anchors, anchors_cs, (ENV_VALUE,), skip=frozenset({skip}))
    scanner = build_scanner(found, ENGINES[0])
    assert scanner is not None

    protector = LineProtector(redactor=Redactor(literal_values=(ENV_VALUE,)), scanner=scanner)

    def slips_through(line: dict[str, Any]) -> bool:
        if protector._unchanged(copy.deepcopy(line)) is None:
            return False
        return _full_protect(line, (ENV_VALUE,))[1] != {}

    return find(
        st.builds(_line, st.lists(planted(st.just(how), secrets), min_size=1, max_size=2), KEY),
        slips_through,
        # Found, not shrunk: any counterexample makes the point.
        settings=settings(
            max_examples=500, database=None, derandomize=True, phases=[Phase.generate]
        ),
    )


@pytest.mark.parametrize(
    ("trigger", "how", "secrets"),
    [
        (b"%", "percent_all", any_secret),
        # KELVIN SIGN for "k": the case-blind rules (key, token...) still match.
        ("\u212a".encode(), "case", family("secret_assignment")),
        (b"\\u", "json_u", any_secret),
        (b"\\u", "control", any_secret),
        (b"\\b", "backspace", any_secret),
        (escaped(ENV_VALUE), "env", any_secret),
        (b"ghp_", "bare", family("github_token")),
        (b"sk-", "bare", family("openai_key")),
    ],
)
def test_a_scan_without_a_trigger_lets_a_secret_through(
    trigger: bytes, how: str, secrets: st.SearchStrategy[tuple[str, str, str]]
) -> None:
    # The strategies above reach what each trigger guards: drop it, and they find a line
    # the scan calls clean although protect() redacts it.
    line = _counterexample(trigger, how, secrets)
    assert _full_protect(line, (ENV_VALUE,))[1]


def test_every_anchor_of_the_rule_tables_is_a_trigger() -> None:
    # Derived, not listed: a rule added to secrets_rules.py is scanned for at once.
    anchors, anchors_cs = Redactor().anchors()
    found = {t.literal: t.caseless for t in triggers(anchors, anchors_cs)}
    for rule in TOKEN_RULES + CONTEXT_RULES:
        for anchor in rule.anchors:
            assert found.get(escaped(anchor)) is True, anchor
        for anchor in rule.anchors_cs:
            assert escaped(anchor) in found, anchor


def test_the_characters_whose_lower_case_is_ascii_are_all_triggers() -> None:
    computed = {
        chr(code)
        for code in range(0x80, sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF and any(c.isascii() for c in chr(code).lower())
    }
    assert computed == set(LOWER_TO_ASCII)
    literals = {t.literal for t in triggers(*Redactor().anchors())}
    assert {c.encode() for c in computed} <= literals


def test_orjson_escaping_is_pinned_for_each_class_the_scan_relies_on() -> None:
    named = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    for code in range(0x20):
        char = chr(code)
        assert escaped(char) == named.get(char, f"\\u{code:04x}").encode(), code
    assert escaped('"') == b'\\"'
    assert escaped("\\") == b"\\\\"
    # Written as themselves: '/', '%', DEL, the C1 controls, every other non-ASCII character.
    for char in ["/", "%", "\x7f", *map(chr, range(0x80, 0xA0)), "\u2028", "\u212a", "😀"]:
        assert escaped(char) == char.encode(), hex(ord(char))
    for char in string.printable[:-6]:  # ASCII printable (not whitespace controls)
        if char not in '"\\':
            assert escaped(char) == char.encode()
    for code in (0xD800, 0xDBFF, 0xDC00, 0xDFFF):
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(chr(code))


@settings(max_examples=EXAMPLES, deadline=None)
@given(text=st.text(), cut=st.integers(min_value=0, max_value=40))
def test_orjson_escapes_each_character_alone(text: str, cut: int) -> None:
    # What makes the scan sound: a substring's escape is a substring of the escape.
    try:
        whole = escaped(text)
    except orjson.JSONEncodeError:
        return
    assert whole == escaped(text[:cut]) + escaped(text[cut:])
    assert b"".join(escaped(c) for c in text) == whole


def test_a_line_with_user_patterns_or_longer_than_a_field_takes_the_walk() -> None:
    import re

    assert scanner_for(Redactor(user_patterns=(re.compile("zz"),))) is None
    redactor = Redactor()
    protector = LineProtector(
        redactor=redactor, scanner=scanner_for(redactor, ENGINES[0]), max_field_bytes=256
    )
    line = _line(["word " * 100], "k")
    written = orjson.loads(protector.protect(line))
    assert written["field_truncated"] is True
    assert written["message"].endswith("…[truncated]")


def test_the_engine_in_use_is_the_best_installed() -> None:
    engine = available_engine()
    assert engine in ("hyperscan", "re2", None)
    if engine is not None:
        scanner = build_scanner(triggers(*Redactor().anchors()))
        assert scanner is not None
        assert scanner.engine == engine


# -- keys that hold an anchor but that the walk leaves as they are (``BenignKeys``) ---------

# Keys a line may carry: benign alone although they hold an anchor ("token", "key"...),
# and a GitHub token as a key, which the walk redacts and which must never be learned.
DIRTY_KEY = "ghp_" + "a1B2" * 9
KEY_NAMES = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "api_key",
    "token",
    "secret",
    "x.token_count",
    "bearer",  # an anchor that is no secret's name: learned, yet it redacts inside text
    "authorization",
    DIRTY_KEY,
]
keys = st.one_of(
    st.sampled_from(KEY_NAMES),
    st.sampled_from(KEY_NAMES),
    # The names inside other strings: a quote or escape before them, a flag, a value.
    st.sampled_from(KEY_NAMES).map(lambda k: f'x"{k}'),
    st.sampled_from(KEY_NAMES).map(lambda k: f"{k}\\"),
    st.sampled_from(KEY_NAMES).map(lambda k: f"--{k}"),
    strings,
)
# Values that hold the names too: JSON text (structural redaction of the value under a
# secret-like key), assignments, the names alone.
key_values = st.one_of(
    st.sampled_from(["1", "9553", "npm test", "claude-opus-4-8"]),
    st.builds(
        lambda k, v: json.dumps({k: v}), st.sampled_from(KEY_NAMES), st.just("hunter2hunter2")
    ),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEY_NAMES), st.just("Qx12345678abc")),
    st.builds(lambda k, v: f"{k} {v}", st.sampled_from(KEY_NAMES), st.just("Qx12345678abcdef")),
    st.sampled_from(KEY_NAMES),
    strings,
)


def _keyed_line(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    line = _line([value for _, value in pairs] or ["x"], "k")
    line["raw"] = {key: value for key, value in pairs}
    line["gen_ai"] = {"usage": {key: 3 for key, _ in pairs[:2]}}
    return line


keyed_lines = st.builds(_keyed_line, st.lists(st.tuples(keys, key_values), min_size=1, max_size=5))


def _taught(engine: str, literal_values: tuple[str, ...] = ()) -> LineProtector:
    """A protector whose walk has met every name of ``KEY_NAMES`` as a key (and learned
    the ones it left unchanged)."""
    redactor = Redactor(literal_values=literal_values)
    protector = LineProtector(redactor=redactor, scanner=_scanner(engine, literal_values))
    protector.protect(_keyed_line([(name, "1") for name in KEY_NAMES]))
    return protector


def test_the_walk_learns_the_benign_keys_and_never_a_redacted_one() -> None:
    protector = _taught(ENGINES[0])
    learned = protector.benign_keys.names
    assert {"input_tokens", "output_tokens", "cache_read_tokens"} <= learned
    # A key that names a secret changes its value (``"api_key": "…"``): never learned.
    assert not {"api_key", "token", "secret", "authorization", DIRTY_KEY} & learned
    # A line whose only triggers are learned keys, in key position, skips the walk.
    line = _keyed_line([("input_tokens", "9553"), ("cache_read_tokens", "12")])
    assert protector._unchanged(copy.deepcopy(line)) is not None
    # Without the learned keys it would not: the anchor "token" is in the bytes.
    assert (
        LineProtector(redactor=protector.redactor, scanner=protector.scanner)._unchanged(
            copy.deepcopy(line)
        )
        is None
    )


def test_a_taught_scan_still_walks_a_line_with_a_secrets_name_as_a_key() -> None:
    for engine in ENGINES:
        protector = _taught(engine)
        line = _keyed_line([("input_tokens", "9553"), ("db_password", "hunter2zz")])
        assert protector._unchanged(copy.deepcopy(line)) is None
        raw = orjson.loads(protector.protect(copy.deepcopy(line)))["raw"]
        assert raw == {"input_tokens": "9553", "db_password": "[REDACTED:secret_assignment]"}


def _slips_through(
    protector: LineProtector, line: dict[str, Any], literal_values: tuple[str, ...]
) -> bool:
    if protector._unchanged(copy.deepcopy(line)) is None:
        return False
    written, counts = _full_protect(line, literal_values)
    return counts != {} or written != orjson.dumps(line)


@PROPERTY
@given(line=keyed_lines)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_scan_without_the_learned_keys_is_clean_only_when_the_full_protect_is(
    engine: str, line: dict[str, Any]
) -> None:
    for literal_values in ((), (ENV_VALUE,)):
        protector = _taught(engine, literal_values)
        unchanged = protector._unchanged(copy.deepcopy(line))
        if unchanged is None:
            continue
        written, counts = _full_protect(line, literal_values)
        assert written == unchanged
        assert counts == {}


@PROPERTY
@given(batch=st.lists(st.one_of(keyed_lines, lines), min_size=1, max_size=6))
def test_protect_writes_the_same_while_it_learns_keys(batch: list[dict[str, Any]]) -> None:
    # One protector over many lines, learning as it walks: the output never differs.
    redactor = Redactor(literal_values=(ENV_VALUE,))
    fast = LineProtector(redactor=redactor, scanner=_scanner(ENGINES[0], (ENV_VALUE,)))
    slow = LineProtector(redactor=Redactor(literal_values=(ENV_VALUE,)))
    for line in batch:
        assert fast.protect(copy.deepcopy(line)) == slow.protect(copy.deepcopy(line))
    assert fast.totals == slow.totals


class _StripsAnywhere(BenignKeys):
    """Unsound on purpose: strips the learned names wherever they are, not only as keys."""

    def strip(self, data: bytes) -> bytes | None:
        current = data
        for name in self.names:
            current = current.replace(name.encode(), b"")
        return None if current == data else current


def _find_slip(protector: LineProtector) -> dict[str, Any]:
    return find(
        keyed_lines,
        lambda line: _slips_through(protector, line, ()),
        settings=settings(
            max_examples=2000, database=None, derandomize=True, phases=[Phase.generate]
        ),
    )


def test_a_key_learned_without_the_walk_lets_a_secret_through() -> None:
    # Learning a key the walk would redact (skipping the check in ``_clean_key``) is caught.
    protector = _taught(ENGINES[0])
    protector.benign_keys.learn(DIRTY_KEY, protector.scanner)  # type: ignore[arg-type]
    line = _find_slip(protector)
    assert _full_protect(line, ())[1]


def test_stripping_a_learned_key_outside_key_position_lets_a_secret_through() -> None:
    # "bearer Qx12345678abcdef" inside a string is redacted; "bearer" as a key is not a
    # secret's name, so it is learned. A strip that also takes the name from inside
    # strings leaves that token without its anchor and misses it.
    protector = _taught(ENGINES[0])
    names = protector.benign_keys.names
    protector.benign_keys = _StripsAnywhere()
    for name in names:
        protector.benign_keys.learn(name, protector.scanner)  # type: ignore[arg-type]
    line = _find_slip(protector)
    assert _full_protect(line, ())[1]
