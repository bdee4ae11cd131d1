"""Redaction of secrets from strings and nested values (pure).

Passes, in order, each ONE compiled regex over the parts of a string that are
not already ``[REDACTED:...]`` placeholders (which makes redaction idempotent):

1. literal values (secret-looking environment variables, ``--redact-env``)
   and the user's ``--redact-pattern`` regexes;
2. self-identifying tokens (``TOKEN_RULES``);
3. context rules (``CONTEXT_RULES``): assignments, flags, authorization values.

A string that parses as a JSON object or array is redacted structurally (every
nested string, plus values under secret-like keys) and re-serialized only if
something changed. A string containing ``%xx`` escapes is also checked in its
percent-decoded form; if that view holds a secret, the decoded, redacted text
replaces the value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson

from beacon.pipeline.sanitize import needs_sanitizing
from beacon.pipeline.secrets_rules import (
    CONTEXT_RULES,
    HARMLESS_VALUE_PATTERN,
    SECRET_KEY_PATTERN,
    TOKEN_RULES,
    SecretRule,
)

#: ANSI CSI sequences, real or spelled out as escapes in text (``\u001b[..m``,
#: ``\x1b[..m``, ``\033[..m``, ``\e[..m``): their final letter hides a token's start.
_ESCAPED_ANSI_RE = re.compile(r"(?:\x1b|\\+(?:u001[bB]|x1[bB]|033|e))\[[0-?]*[ -/]*[@-~]")
_ESCAPED_TERMINAL_MARK = "["  # cheap test before the regex
PLACEHOLDER_RE = re.compile(r"\[REDACTED:[a-z0-9_]+\]")
_PLACEHOLDER_MARK = "[REDACTED:"
_SECRET_KEY_RE = re.compile(SECRET_KEY_PATTERN)
_HARMLESS_RE = re.compile(HARMLESS_VALUE_PATTERN)
_PLACEHOLDER_WORDS = frozenset({"<redacted>", "redacted", "***", "xxx", "changeme", "none", "null"})
# Strings shorter than this cannot hold any token of the tables (the shortest is ~16).
_MIN_TOKEN_LENGTH = 8
# Small strings repeat on every record (ids, names, models): cache their results.
_CACHE_MAX_LENGTH = 256
_CACHE_MAX_ENTRIES = 8192
_MAX_JSON_DEPTH = 64
# Combinations of anchored rules seen in practice are few; bound them anyway.
_MAX_COMPILED_COMBINATIONS = 512

Counts = dict[str, int]


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """An object key whose whole string value is a secret (``api_key``, ``DB_PASSWORD``)."""
    return _SECRET_KEY_RE.match(key) is not None


def placeholder(family: str) -> str:
    return f"[REDACTED:{family}]"


def _compile_rules(rules: Iterable[SecretRule]) -> re.Pattern[str]:
    parts = []
    for rule in rules:
        body = rule.pattern
        for inner in ("v", "v2", "q"):
            # Group definitions and conditionals on them, e.g. ``(?(q)quoted|bare)``.
            body = body.replace(f"(?P<{inner}>", f"(?P<{rule.family}__{inner}>")
            body = body.replace(f"(?({inner})", f"(?({rule.family}__{inner})")
        parts.append(f"(?P<{rule.family}>{body})")
    return re.compile("|".join(parts))


def trie_pattern(words: Iterable[str]) -> str:
    """A regex matching the same words as ``a|b|...`` (longest first), shaped as a trie.

    At each position it finds the longest word starting there, like the flat
    longest-first alternation, but it does not try every word at every position:
    ~4x faster on long strings, and every string of every line goes through it.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # A word ends here: the longer continuations are tried first (greedy ``?``).
        return f"(?:{body})?" if "" in node else body

    return build(trie)


class _RuleTables:
    """Both rule tables, compiled lazily into one alternation per set of anchored rules.

    One scan of a string finds which rules' anchors it holds (``SecretRule.anchors``);
    most strings hold none and cost just that scan. The rest run one regex per
    table made of only the rules whose anchors they contain.
    """

    def __init__(self, token_rules: tuple[SecretRule, ...], context_rules: tuple[SecretRule, ...]):
        self.rules = token_rules + context_rules
        self._split = len(token_rules)
        self._compiled: dict[frozenset[int], re.Pattern[str]] = {}
        self._finder, self._rules_of = self._anchor_finder(self.rules, case_sensitive=False)
        self._finder_cs, self._rules_of_cs = self._anchor_finder(self.rules, case_sensitive=True)

    @staticmethod
    def _anchor_finder(
        rules: tuple[SecretRule, ...], *, case_sensitive: bool
    ) -> tuple[re.Pattern[str] | None, dict[str, frozenset[int]]]:
        owners: dict[str, set[int]] = {}
        for index, rule in enumerate(rules):
            for anchor in rule.anchors_cs if case_sensitive else rule.anchors:
                owners.setdefault(anchor, set()).add(index)
        if not owners:
            return None, {}

        # One non-overlapping scan finds the anchors. An anchor B that starts inside a found
        # anchor A (B inside A, or a suffix of A beginning B) can be hidden by A, so finding
        # A also stands for B's rules: a superset, never a miss.
        def hidden_by(found: str, other: str) -> bool:
            return other in found or any(other.startswith(found[k:]) for k in range(1, len(found)))

        rules_of = {
            anchor: frozenset(
                i for other, idx in owners.items() if hidden_by(anchor, other) for i in idx
            )
            for anchor in owners
        }
        return re.compile(trie_pattern(owners)), rules_of

    def can_spell_an_anchor(self, characters: str) -> bool:
        """Could a string made only of ``characters`` hold an anchor of any rule?"""
        folded = set(characters.lower())
        exact = set(characters)
        return any(
            set(anchor) <= (exact if case_sensitive else folded)
            for case_sensitive, anchors in ((False, self._rules_of), (True, self._rules_of_cs))
            for anchor in anchors
        )

    def anchors(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(case-blind anchors, exact anchors): what ``has_anchor`` looks for."""
        return tuple(self._rules_of), tuple(self._rules_of_cs)

    def has_anchor(self, text: str) -> bool:
        """True when ``text`` holds an anchor of any rule (``patterns_for`` may choose one)."""
        if self._finder is not None and self._finder.search(text.lower()) is not None:
            return True
        return self._finder_cs is not None and self._finder_cs.search(text) is not None

    def _pattern(self, chosen: frozenset[int]) -> re.Pattern[str] | None:
        if not chosen:
            return None
        pattern = self._compiled.get(chosen)
        if pattern is None:
            if len(self._compiled) >= _MAX_COMPILED_COMBINATIONS:
                self._compiled.clear()
            pattern = _compile_rules(self.rules[i] for i in sorted(chosen))
            self._compiled[chosen] = pattern
        return pattern

    def patterns_for(self, text: str) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        """(token pattern, context pattern) for ``text``; None where no rule can match.

        Anchors are looked up once, before the token pass: replacing a secret with a
        placeholder removes text, never adds an anchor, so the set stays a superset.
        """
        if _PLACEHOLDER_MARK in text:
            # A placeholder names its family ("token"...): it must not trigger rules itself.
            text = PLACEHOLDER_RE.sub(" ", text)
        chosen: set[int] = set()
        if self._finder is not None:
            for anchor in self._finder.findall(text.lower()):
                chosen.update(self._rules_of[anchor])
        if self._finder_cs is not None:
            for anchor in self._finder_cs.findall(text):
                chosen.update(self._rules_of_cs[anchor])
        if not chosen:
            return None, None
        split = self._split
        return (
            self._pattern(frozenset(i for i in chosen if i < split)),
            self._pattern(frozenset(i for i in chosen if i >= split)),
        )


_TABLES = _RuleTables(TOKEN_RULES, CONTEXT_RULES)
# The characters of ids, hex hashes, timestamps and numbers: a string made of these
# alone spells no anchor of the built-in rules (checked below, per Redactor), holds no
# trigger ('%', '\\', control characters), so it is clean without the anchor scan.
# Every line carries several such strings (event timestamps, prompt and tool ids),
# unique each time, so the result cache cannot answer for them.
ID_CHARACTERS = "0123456789abcdef-:.TZ+"


def _secret_span(match: re.Match[str], family: str) -> tuple[int, int] | None:
    for inner in ("v", "v2"):
        try:
            start = match.start(f"{family}__{inner}")
        except IndexError:
            return match.span(family)
        if start >= 0:
            return start, match.end(f"{family}__{inner}")
    return match.span(family)


def _looks_like_placeholder_value(value: str) -> bool:
    return (
        value.startswith(("$", "%", "<", "*", "{{", "[REDACTED"))
        or value.lower() in _PLACEHOLDER_WORDS
    )


def _context_value_is_secret(match: re.Match[str], family: str, text: str) -> bool:
    span = _secret_span(match, family)
    if span is None:
        return False
    value = text[span[0] : span[1]]
    if _looks_like_placeholder_value(value):
        return False
    if family != "secret_assignment":
        return True
    quoted = match.group("secret_assignment__q") is not None
    if quoted:
        return len(value) >= 3
    # Unquoted: code passes names around (token=token, password=args.password(...)).
    following = text[span[1] : span[1] + 1]
    if following in ("(", "[", "."):
        return False
    return len(value) >= 4 and _HARMLESS_RE.match(value) is None


Check = Callable[[re.Match[str], str, str], bool]


def _apply_pattern(
    pattern: re.Pattern[str], family: str | None, check: Check | None, text: str, counts: Counts
) -> str:
    """Replace the matches of ``pattern`` in ``text``.

    ``family`` None: the rule tables (the matched group names the family, an inner
    ``v`` group the part to replace); else every match is a secret of ``family``.
    """
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        name = family or match.lastgroup or "secret"
        if check is not None and not check(match, name, text):
            continue
        span = _secret_span(match, name) if family is None else match.span()
        if span is None or span[0] == span[1] or span[0] < last:
            continue
        out.append(text[last : span[0]])
        out.append(placeholder(name))
        last = span[1]
        counts[name] = counts.get(name, 0) + 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _apply_outside_placeholders(
    pattern: re.Pattern[str], family: str | None, check: Check | None, text: str, counts: Counts
) -> str:
    """``_apply_pattern`` on the parts of ``text`` that are not placeholders (idempotence)."""
    if _PLACEHOLDER_MARK not in text:
        return _apply_pattern(pattern, family, check, text, counts)
    pieces: list[str] = []
    last = 0
    for marker in PLACEHOLDER_RE.finditer(text):
        pieces.append(_apply_pattern(pattern, family, check, text[last : marker.start()], counts))
        pieces.append(marker.group())
        last = marker.end()
    pieces.append(_apply_pattern(pattern, family, check, text[last:], counts))
    return "".join(pieces)


def _literal_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    unique = sorted({v for v in values if v}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile("|".join(re.escape(v) for v in unique))


class _TooDeep(Exception):
    """A JSON document nests deeper than ``_MAX_JSON_DEPTH``."""


@dataclass
class Redactor:
    """Redacts with the built-in families plus literal values and user patterns.

    Not thread-safe (it keeps a result cache); build one per pipeline run.
    """

    literal_values: tuple[str, ...] = ()
    user_patterns: tuple[re.Pattern[str], ...] = ()
    _fixed: list[tuple[re.Pattern[str], str]] = field(init=False, repr=False)
    _cache: dict[str, tuple[str, Counts]] = field(init=False, repr=False, default_factory=dict)
    _literal: re.Pattern[str] | None = field(init=False, repr=False)
    _id_characters: str | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fixed: list[tuple[re.Pattern[str], str]] = []
        literal = _literal_pattern(self.literal_values)
        if literal is not None:
            fixed.append((literal, "env_value"))
        fixed.extend((p, "custom_pattern") for p in self.user_patterns)
        self._fixed = fixed
        self._literal = literal
        # Literal values and user patterns can match any characters: no shortcut then.
        proven = not self.user_patterns and literal is None
        self._id_characters = (
            ID_CHARACTERS if proven and not _TABLES.can_spell_an_anchor(ID_CHARACTERS) else None
        )

    def anchors(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(case-blind, exact) anchors of the rules ``is_clean`` looks for (``linescan``)."""
        return _TABLES.anchors()

    def is_clean(self, text: str) -> bool:
        """True when neither redaction nor sanitizing can change ``text`` (no false "True").

        Every rule acts only on text holding one of its anchors, a literal value, '%' or
        a JSON escape (see ``_redact_uncached``); sanitizing only on control characters
        and surrogates. One scan for those and one for the anchors prove most strings
        clean. User patterns are arbitrary regexes, so with any, nothing is proven clean.
        Before all that, an id, hash, timestamp or number is clean at once
        (``ID_CHARACTERS``).
        """
        if self._id_characters is not None and not text.strip(self._id_characters):
            return True
        if self.user_patterns or "%" in text:
            return False
        if "\\" in text and ("\\u" in text or "\\/" in text):
            return False
        # ASCII and printable: no control character, no surrogate (the common case, fast).
        if not (text.isascii() and text.isprintable()) and needs_sanitizing(text):
            return False
        if self._literal is not None and self._literal.search(text) is not None:
            return False
        return not _TABLES.has_anchor(text)

    # -- strings -------------------------------------------------------------------------

    def redact_text(self, text: str, counts: Counts) -> str:
        """Redact one string; add what was replaced to ``counts`` (family -> n)."""
        cacheable = len(text) <= _CACHE_MAX_LENGTH
        if cacheable:
            hit = self._cache.get(text)
            if hit is not None:
                for family, n in hit[1].items():
                    counts[family] = counts.get(family, 0) + n
                return hit[0]
        local: Counts = {}
        result = self._redact_uncached(text, local)
        for family, n in local.items():
            counts[family] = counts.get(family, 0) + n
        if cacheable:
            if len(self._cache) >= _CACHE_MAX_ENTRIES:
                self._cache.clear()
            self._cache[text] = (result, local)
        return result

    def _redact_uncached(self, text: str, counts: Counts) -> str:
        if self.is_clean(text):
            return text
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            if self._json_text_is_clean(text):
                return text
            structured = self._redact_json_text(text, counts)
            if structured is not None:
                return structured
        result: str | None = None
        if _ESCAPED_TERMINAL_MARK in text:
            # A terminal escape ("\x1b[31m", or "\\u001b[31m" written out in a
            # value JSON-encoded twice) glues its final letter to what follows, so
            # a token after it has no word boundary: look without the escapes, and
            # keep that view only when it held a secret (else sanitizing decides).
            bare = _ESCAPED_ANSI_RE.sub("", text)
            if bare != text:
                found: Counts = {}
                redacted = self._redact_plain(bare, found)
                if found:
                    merge_counts(counts, found)
                    result = redacted
        if result is None:
            result = self._redact_plain(text, counts)
        # Percent-encoded secrets too, whichever view found the others.
        if "%" in result:
            result = self._redact_percent_decoded(result, counts)
        return result

    def _json_text_is_clean(self, text: str) -> bool:
        """True when no rule can match anything inside this JSON text, without parsing it.

        JSON escapes only quotes, backslashes and control characters, which no anchor
        contains; ``\\u``, ``\\/`` and ``%`` escapes could hide one, so they force the parse.
        """
        if self._fixed or "\\u" in text or "\\/" in text or "%" in text:
            return False
        return _TABLES.patterns_for(text) == (None, None)

    def _redact_plain(self, text: str, counts: Counts) -> str:
        for pattern, family in self._fixed:
            text = _apply_outside_placeholders(pattern, family, None, text, counts)
        if len(text) < _MIN_TOKEN_LENGTH:
            return text
        token_pattern, context_pattern = _TABLES.patterns_for(text)
        if token_pattern is not None:
            text = _apply_outside_placeholders(token_pattern, None, None, text, counts)
        if context_pattern is not None:
            text = _apply_outside_placeholders(
                context_pattern, None, _context_value_is_secret, text, counts
            )
        return text

    def _redact_percent_decoded(self, text: str, counts: Counts) -> str:
        view = text
        for _ in range(3):  # double-encoded values are common in URLs; bound the work
            decoded = unquote(view)
            if decoded == view:
                break
            view = decoded
        if view == text:
            return text
        found: Counts = {}
        redacted_view = self._redact_plain(view, found)
        if not found:
            return text
        for family, n in found.items():
            counts[family] = counts.get(family, 0) + n
        return redacted_view

    def _redact_json_text(self, text: str, counts: Counts) -> str | None:
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        local: Counts = {}
        try:
            redacted = self.redact_value(parsed, local, depth=1)
        except _TooDeep:
            # Deeper than we walk: the plain-text rules still see every character.
            return None
        if not local:
            return text
        for family, n in local.items():
            counts[family] = counts.get(family, 0) + n
        try:
            return orjson.dumps(redacted).decode()
        except (TypeError, orjson.JSONEncodeError):
            return self._redact_plain(text, counts)

    # -- nested values -------------------------------------------------------------------

    def redact_value(self, value: Any, counts: Counts, depth: int = 0) -> Any:
        """Redact every string inside ``value`` (dicts, lists, strings); keys included.

        Raises ``_TooDeep`` past ``_MAX_JSON_DEPTH`` levels (callers fall back to text).
        """
        if isinstance(value, str):
            return self.redact_text(value, counts)
        if depth > _MAX_JSON_DEPTH:
            raise _TooDeep
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self.redact_text(key, counts) if isinstance(key, str) else key
                redacted = self.redact_value(item, counts, depth + 1)
                if redacted == item and isinstance(item, str) and isinstance(key, str):
                    redacted = self.secret_under_key(key, item, counts)
                out[new_key] = redacted
            return out
        if isinstance(value, list):
            return [self.redact_value(item, counts, depth + 1) for item in value]
        return value

    def secret_under_key(self, key: str, value: str, counts: Counts) -> str:
        """``value``, or its placeholder when ``key`` names a secret (``"password": …``).

        For a value already redacted as text: one that holds a placeholder is kept.
        The same rule for an object inside JSON text, a runtime line's own objects
        (an attribute ``db_password``) and a forwarded OTLP attribute.
        """
        if (
            is_secret_key(key)
            and _PLACEHOLDER_MARK not in value
            and self._is_bare_secret_value(value)
        ):
            counts["secret_assignment"] = counts.get("secret_assignment", 0) + 1
            return placeholder("secret_assignment")
        return value

    def _is_bare_secret_value(self, value: str) -> bool:
        # A value under a secret-like key: secret unless empty, a placeholder, or already
        # fully redacted (then the text pass keeps it unchanged anyway).
        stripped = value.strip()
        return (
            len(stripped) >= 3
            and not _looks_like_placeholder_value(stripped)
            and PLACEHOLDER_RE.fullmatch(stripped) is None
        )


def merge_counts(into: Counts, other: Mapping[str, int]) -> None:
    for family, n in other.items():
        into[family] = into.get(family, 0) + n
