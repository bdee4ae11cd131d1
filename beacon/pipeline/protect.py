"""Redact, sanitize, truncate and cap one runtime line, in that order (pure).

One walk over the line handles each string: redact it; if it holds control
characters or ANSI escapes, sanitize it and redact again (removing a control
character can join the two halves of a secret); then truncate it to the field
limit. The serialized line is finally capped (``truncate.cap_line``).

Fields beacon itself sets from trusted values (``event``, ``endpoint``,
``beacon``...) are not scanned; ``run`` is redacted once per pipeline run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from beacon.pipeline.actions import raise_severity
from beacon.pipeline.redact import Counts, Redactor, is_secret_key, merge_counts
from beacon.pipeline.sanitize import needs_sanitizing, sanitize_text
from beacon.pipeline.truncate import cap_line, mark_truncated, truncate_text, utf8_len

if TYPE_CHECKING:
    from beacon.pipeline.linescan import BenignKeys, LineScanner

# Top-level keys whose values beacon sets itself (constants, ids, counts).
TRUSTED_KEYS = frozenset(
    {
        "timestamp",
        "vendor",
        "product",
        "schema_version",
        "origin",
        "event",
        "severity",
        "endpoint",
        "run",
        "repository",
        "branch",
        "content",
        "field_truncated",
        "beacon",
        "trace",
    }
)
# Short strings repeat on every record (ids, names, keys): cache their cleaned form.
_CACHE_MAX_LENGTH = 256
_CACHE_MAX_ENTRIES = 16384


@dataclass
class LineProtector:
    redactor: Redactor
    max_field_bytes: int = 8192
    max_line_bytes: int = 65536
    totals: Counts = field(default_factory=dict)
    # The line scan (``linescan``): None walks every line (fast paths off, small runs).
    scanner: LineScanner | None = None
    # Keys holding a trigger that the walk left unchanged (``linescan.BenignKeys``).
    # Made with the first line the scan meets: a small run imports no line scan at all.
    benign_keys: BenignKeys | None = field(default=None, repr=False)
    _cache: dict[str, tuple[str, Counts]] = field(default_factory=dict, repr=False)
    _emptied: bool = field(default=False, repr=False)

    def clean_text(self, text: str, counts: Counts) -> str:
        """Redact, then sanitize (and redact what sanitizing revealed)."""
        cacheable = len(text) <= _CACHE_MAX_LENGTH
        if cacheable:
            hit = self._cache.get(text)
            if hit is not None:
                if hit[1]:
                    merge_counts(counts, hit[1])
                return hit[0]
        local: Counts = {}
        # Most strings: one scan proves there is nothing to redact or sanitize.
        result = text if self.redactor.is_clean(text) else self._clean_uncached(text, local)
        if local:
            merge_counts(counts, local)
        # An emptied string is not cached: each occurrence must raise ``_emptied``.
        if cacheable and result:
            if len(self._cache) >= _CACHE_MAX_ENTRIES:
                self._cache.clear()
            self._cache[text] = (result, local)
        return result

    def _clean_uncached(self, text: str, local: Counts) -> str:
        result = self.redactor.redact_text(text, local)
        if needs_sanitizing(result):
            result = self.redactor.redact_text(sanitize_text(result), local)
            if not result:
                self._emptied = True
        return result

    def _walk(self, node: Any, path: str, line: dict[str, Any], counts: Counts) -> Any:
        if isinstance(node, str):
            text = self.clean_text(node, counts)
            if len(text) * 4 > self.max_field_bytes and utf8_len(text) > self.max_field_bytes:
                text = truncate_text(text, self.max_field_bytes)
                mark_truncated(line, path)
            return text
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            cache = self._cache
            for key, value in node.items():
                # Inlined cache hits: most keys and many values repeat on every line.
                hit = cache.get(key) if isinstance(key, str) else None
                if hit is not None and not hit[1]:
                    clean_key = hit[0]
                elif isinstance(key, str):
                    clean_key = self._clean_key(key, counts)
                else:
                    clean_key = str(key)
                if isinstance(value, str):
                    hit = cache.get(value)
                    if hit is not None and not hit[1]:
                        text = hit[0]
                    else:
                        text = self.clean_text(value, counts)
                    if text and is_secret_key(clean_key):
                        text = self.redactor.secret_under_key(clean_key, text, counts)
                    if len(text) * 4 > self.max_field_bytes:
                        text = self._truncate_field(text, f"{path}.{clean_key}", line)
                    out[clean_key] = text
                elif isinstance(value, dict | list):
                    out[clean_key] = self._walk(value, f"{path}.{clean_key}", line, counts)
                else:
                    out[clean_key] = value
            return out
        if isinstance(node, list):
            return [
                self._walk(value, f"{path}[{index}]", line, counts)
                for index, value in enumerate(node)
            ]
        return node

    def _clean_key(self, key: str, counts: Counts) -> str:
        """``clean_text`` of an object key; with the line scan on, a key the walk leaves
        unchanged and uncounted is learned as benign (``linescan.BenignKeys``)."""
        if self.scanner is None:
            return self.clean_text(key, counts)
        local: Counts = {}
        clean = self.clean_text(key, local)
        if local:
            merge_counts(counts, local)
        elif clean == key and not is_secret_key(key):
            # A key such as "db_password" changes its value: never benign.
            self._benign_keys().learn(key, self.scanner)
        return clean

    def _benign_keys(self) -> BenignKeys:
        if self.benign_keys is None:
            from beacon.pipeline.linescan import BenignKeys

            self.benign_keys = BenignKeys()
        return self.benign_keys

    def _truncate_field(self, text: str, path: str, line: dict[str, Any]) -> str:
        if utf8_len(text) <= self.max_field_bytes:
            return text
        mark_truncated(line, path)
        return truncate_text(text, self.max_field_bytes)

    def protect(self, line: dict[str, Any]) -> bytes:
        """The line as one JSON document (no newline), safe to write."""
        if self.scanner is not None:
            data = self._unchanged(line)
            if data is not None:
                return data
        counts: Counts = {}
        for key in list(line):
            if key in TRUSTED_KEYS:
                continue
            value = line[key]
            if isinstance(value, str):
                text = self.clean_text(value, counts)
                line[key] = (
                    self._truncate_field(text, key, line)
                    if len(text) * 4 > self.max_field_bytes
                    else text
                )
            else:
                line[key] = self._walk(value, key, line, counts)
        source = line["beacon"].get("source")
        if isinstance(source, dict):
            # Names the client chose (span, event, scope names) are not trusted either.
            for key in ("event_name", "scope"):
                if isinstance(source.get(key), str):
                    source[key] = self.clean_text(source[key], counts)[: self.max_field_bytes]
            if source.get("event_name") == "":
                del source["event_name"]
        if self._emptied:
            # Rare: sanitizing left a field empty, which the schema forbids.
            self._emptied = False
            _drop_empty_strings(line)
        if counts:
            line["content"]["redacted"] = True
            line["beacon"]["redactions"] = counts
            line["severity"] = raise_severity(line["severity"], "high")
            merge_counts(self.totals, counts)
        return cap_line(line, self.max_line_bytes)

    def _unchanged(self, line: dict[str, Any]) -> bytes | None:
        """The serialized line when one scan proves the walk would change nothing, else None.

        No trigger in the bytes: every string is ``Redactor.is_clean`` (linescan.py).
        A line no longer than the field limit holds no string to truncate, and one no
        longer than the line limit needs no cap; an empty event name is dropped by the
        walk. orjson refuses what the walk would have to repair (lone surrogates).
        """
        source = line["beacon"].get("source")
        if isinstance(source, dict) and source.get("event_name") == "":
            return None
        try:
            data = orjson.dumps(line)
        except TypeError:  # orjson.JSONEncodeError is one
            return None
        if len(data) > self.max_field_bytes or len(data) > self.max_line_bytes:
            return None
        scanner = self.scanner
        assert scanner is not None
        if not scanner.hits(data):
            return data
        # Keys such as "input_tokens" hold an anchor ("token") although the walk leaves
        # them as they are: scan again without them (``BenignKeys``: why that is sound).
        stripped = self._benign_keys().strip(data)
        return data if stripped is not None and not scanner.hits(stripped) else None

    def protect_trusted_value(self, value: Any) -> Any:
        """Redact/sanitize/truncate a value once (the run context) and count it in totals."""
        counts: Counts = {}
        scratch: dict[str, Any] = {"beacon": {}, "content": {}}
        cleaned = self._walk(value, "run", scratch, counts)
        merge_counts(self.totals, counts)
        return cleaned


def _drop_empty_strings(line: dict[str, Any]) -> None:
    """Omit fields that sanitizing emptied (the schema forbids ""); ``raw`` keeps them.

    Required strings get the documented fallback instead.
    """

    def prune(node: dict[str, Any]) -> None:
        for key in [k for k, v in node.items() if v == ""]:
            del node[key]
        for key, value in list(node.items()):
            if isinstance(value, dict):
                prune(value)
                if not value:
                    del node[key]

    for key, value in list(line.items()):
        if key in ("raw", "beacon"):
            continue
        if value == "":
            del line[key]
        elif isinstance(value, dict):
            prune(value)
            if not value:
                del line[key]
    harness = line.setdefault("harness", {})
    harness.setdefault("version", "unknown")
    metric = line.get("metric")
    if isinstance(metric, dict):
        metric.setdefault("name", "unknown")
