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

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson

from beacon.pipeline.secrets_rules import (
    CONTEXT_RULES,
    HARMLESS_VALUE_PATTERN,
    SECRET_KEY_PATTERN,
    TOKEN_RULES,
    SecretRule,
)

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

Counts = dict[str, int]


def placeholder(family: str) -> str:
    return f"[REDACTED:{family}]"


def _compile_rules(rules: Iterable[SecretRule]) -> re.Pattern[str]:
    parts = []
    for rule in rules:
        body = rule.pattern
        for inner in ("v", "v2", "q"):
            body = body.replace(f"(?P<{inner}>", f"(?P<{rule.family}__{inner}>")
        parts.append(f"(?P<{rule.family}>{body})")
    return re.compile("|".join(parts))


class _RuleTable:
    """A rule table compiled lazily into one alternation per set of anchored rules.

    Most strings hold no anchor at all and cost a few substring searches; the
    rest run one regex made of just the rules whose anchors they contain.
    """

    def __init__(self, rules: tuple[SecretRule, ...]) -> None:
        self.rules = rules
        self._compiled: dict[frozenset[int], re.Pattern[str]] = {}
        self._finder, self._rules_of = self._anchor_finder(rules, case_sensitive=False)
        self._finder_cs, self._rules_of_cs = self._anchor_finder(rules, case_sensitive=True)

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
        # An anchor found also stands for every anchor inside it ("sk-ant-" holds "sk-").
        rules_of = {
            anchor: frozenset(i for other, idx in owners.items() if other in anchor for i in idx)
            for anchor in owners
        }
        longest_first = sorted(owners, key=len, reverse=True)
        # A lookahead finds overlapping anchors too, in one scan of the text.
        finder = re.compile("(?=(" + "|".join(re.escape(a) for a in longest_first) + "))")
        return finder, rules_of

    def pattern_for(self, text: str) -> re.Pattern[str] | None:
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
            return None
        key = frozenset(chosen)
        pattern = self._compiled.get(key)
        if pattern is None:
            pattern = _compile_rules(self.rules[i] for i in sorted(key))
            self._compiled[key] = pattern
        return pattern


_TOKEN_TABLE = _RuleTable(TOKEN_RULES)
_CONTEXT_TABLE = _RuleTable(CONTEXT_RULES)


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


@dataclass
class _Pass:
    """One regex pass: a fixed pattern (literals, user patterns) or a rule table."""

    pattern: re.Pattern[str] | _RuleTable
    # None: every match is a secret of ``family``; else decides per match.
    check: Callable[[re.Match[str], str, str], bool] | None
    family: str | None = None

    def apply(self, text: str, counts: Counts) -> str:
        if isinstance(self.pattern, _RuleTable):
            pattern = self.pattern.pattern_for(text)
            if pattern is None:
                return text
        else:
            pattern = self.pattern
        out: list[str] = []
        last = 0
        for match in pattern.finditer(text):
            family = self.family or match.lastgroup or "secret"
            if self.check is not None and not self.check(match, family, text):
                continue
            span = _secret_span(match, family) if self.family is None else match.span()
            if span is None or span[0] == span[1] or span[0] < last:
                continue
            out.append(text[last : span[0]])
            out.append(placeholder(family))
            last = span[1]
            counts[family] = counts.get(family, 0) + 1
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)


def _token_check(match: re.Match[str], family: str, text: str) -> bool:
    return True


def _literal_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    unique = sorted({v for v in values if v}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile("|".join(re.escape(v) for v in unique))


@dataclass
class Redactor:
    """Redacts with the built-in families plus literal values and user patterns.

    Not thread-safe (it keeps a result cache); build one per pipeline run.
    """

    literal_values: tuple[str, ...] = ()
    user_patterns: tuple[re.Pattern[str], ...] = ()
    _passes: list[_Pass] = field(init=False, repr=False)
    _cache: dict[str, tuple[str, Counts]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        passes: list[_Pass] = []
        literal = _literal_pattern(self.literal_values)
        if literal is not None:
            passes.append(_Pass(literal, None, "env_value"))
        passes.extend(_Pass(p, None, "custom_pattern") for p in self.user_patterns)
        self._always = list(passes)
        passes.append(_Pass(_TOKEN_TABLE, _token_check))
        passes.append(_Pass(_CONTEXT_TABLE, _context_value_is_secret))
        self._passes = passes

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
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            structured = self._redact_json_text(text, counts)
            if structured is not None:
                return structured
        result = self._redact_plain(text, counts)
        if "%" in result:
            result = self._redact_percent_decoded(result, counts)
        return result

    def _redact_plain(self, text: str, counts: Counts) -> str:
        passes = self._always if len(text) < _MIN_TOKEN_LENGTH else self._passes
        if not passes:
            return text
        if _PLACEHOLDER_MARK in text:
            return self._apply_outside_placeholders(text, passes, counts)
        for one_pass in passes:
            text = one_pass.apply(text, counts)
        return text

    def _apply_outside_placeholders(self, text: str, passes: list[_Pass], counts: Counts) -> str:
        for one_pass in passes:
            pieces: list[str] = []
            last = 0
            for marker in PLACEHOLDER_RE.finditer(text):
                pieces.append(one_pass.apply(text[last : marker.start()], counts))
                pieces.append(marker.group())
                last = marker.end()
            pieces.append(one_pass.apply(text[last:], counts))
            text = "".join(pieces)
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
        redacted = self.redact_value(parsed, local, depth=1)
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
        """Redact every string inside ``value`` (dicts, lists, strings); keys included."""
        if isinstance(value, str):
            return self.redact_text(value, counts)
        if depth > _MAX_JSON_DEPTH:
            return value
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self.redact_text(key, counts) if isinstance(key, str) else key
                redacted = self.redact_value(item, counts, depth + 1)
                if (
                    redacted == item
                    and isinstance(item, str)
                    and isinstance(key, str)
                    and _SECRET_KEY_RE.match(key)
                    and self._is_bare_secret_value(item)
                ):
                    counts["secret_assignment"] = counts.get("secret_assignment", 0) + 1
                    redacted = placeholder("secret_assignment")
                out[new_key] = redacted
            return out
        if isinstance(value, list):
            return [self.redact_value(item, counts, depth + 1) for item in value]
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
