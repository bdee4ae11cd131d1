"""One scan of a serialized line proves that redaction and sanitizing leave it unchanged.

``LineProtector.protect`` walks every string of a line and asks
``Redactor.is_clean`` of each. That answer depends only on substrings of the
string: an anchor of a rule (case-blind or exact), a literal value, ``%``,
``\\u`` / ``\\/``, a control character, a lone surrogate. orjson writes each
character of a string in a fixed way whatever surrounds it, so every such
substring of a string is, escaped, a substring of the serialized line. One
multi-pattern scan of the line for all of them ("triggers") therefore answers
for every string at once: no trigger, and the walk would change nothing
(``LineProtector._fast``; the differential tests in
tests/pipeline/test_linescan.py hold it to that).

The triggers are derived from the rule tables the redactor itself uses
(``redact.scan_anchors``), never listed twice, so a rule added to
``secrets_rules.py`` is scanned for from then on. Beyond the anchors:

* ``%``, ``\\u``, ``\\/``: percent-encoding and JSON escapes that can hide an
  anchor. A string's own backslash is written ``\\\\``, so its ``\\u`` shows as
  ``\\\\u``, which holds ``\\u`` too; control characters orjson writes as
  ``\\u00XX``, ``\\b``, ``\\f``, ``\\r`` (all triggers), DEL and C1 controls
  as themselves (triggers); a lone surrogate cannot be serialized at all.
* the characters whose ``str.lower()`` holds an ASCII letter although they are
  not ASCII (U+212A KELVIN SIGN -> ``k``, U+0130 -> ``i`` + a dot): the rules
  look for anchors in ``text.lower()``, the scan is ASCII case-blind.

Engines, chosen at first use: ``hyperscan`` (x86-64 wheels), else
``google-re2`` (one alternation, DFA), else none: the walk does every line, as
with the fast paths off.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

from beacon.pipeline.redact import Redactor
from beacon.pipeline.settings import FAST_PATHS_ENV, fast_paths_enabled

# Non-ASCII characters whose lower-case form holds an ASCII character (Python 3.11-3.13:
# U+0130 -> "i̇", U+212A -> "k"). tests/pipeline/test_linescan.py recomputes the set over
# all of Unicode for the running Python.
LOWER_TO_ASCII = "\u0130\u212a"

# JSON escapes orjson writes for control characters that sanitizing removes
# (``\t`` and ``\n`` stay: sanitizing keeps them), and ``\u`` / ``\/``, which can hide
# an anchor in a string that holds JSON text.
_ESCAPE_TRIGGERS = (b"\\u", b"\\/", b"\\b", b"\\f", b"\\r")
# DEL and the C1 controls, which orjson writes as themselves (UTF-8).
_RAW_CONTROLS = "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0))


def escaped(text: str) -> bytes:
    """``text`` as orjson writes it inside a JSON string."""
    return orjson.dumps(text)[1:-1]


@dataclass(frozen=True)
class Trigger:
    literal: bytes
    caseless: bool


def triggers(
    anchors: Iterable[str],
    anchors_cs: Iterable[str],
    literal_values: Iterable[str] = (),
    *,
    skip: frozenset[bytes] = frozenset(),
) -> list[Trigger]:
    """Every byte string the scan looks for. ``skip``: leave these out (tests only: they
    show that the differential tests catch a scan without one of them)."""
    found: list[Trigger] = []
    for anchor in anchors:
        if not anchor.isascii():
            # ASCII case-blindness would not match what ``str.lower`` finds.
            raise ValueError(f"case-blind anchor {anchor!r} is not ASCII")
        found.append(Trigger(escaped(anchor), True))
    found.extend(Trigger(escaped(a), False) for a in anchors_cs)
    found.extend(Trigger(escaped(v), False) for v in literal_values if v)
    found.append(Trigger(b"%", False))
    found.extend(Trigger(e, False) for e in _ESCAPE_TRIGGERS)
    found.extend(Trigger(c.encode(), False) for c in _RAW_CONTROLS + LOWER_TO_ASCII)
    unique = {t.literal: t for t in found if t.literal not in skip}
    return list(unique.values())


# Object keys the exemption may hold: written by orjson as themselves (no quote, no
# backslash, nothing to escape) and not starting with what may follow a closing quote.
_KEY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
_MAX_BENIGN_KEYS = 32


class BenignKeys:
    """Object keys that hold a trigger but that the walk itself left unchanged.

    A line's ``"input_tokens":`` holds the anchor ``token``; the full walk leaves that
    key as it is. ``strip`` removes the key names learned here, in key position only,
    before the line is scanned again, so such a line no longer needs the walk.

    Why that is sound. In orjson's output a ``"`` inside a string is written ``\\"``,
    so a ``"`` right after ``{`` or ``,`` is not inside a string; it is not a closing
    quote either (a closing quote is followed by ``:``, ``,``, ``}`` or ``]``, never by
    a name character), so it opens a string. A name holds no quote and no backslash,
    so that string is exactly the name. ``{"NAME":`` / ``,"NAME":`` -> ``{"":`` /
    ``,"":`` therefore removes the whole content of strings equal to NAME and not one
    byte of any other string: every other string's triggers are still in the bytes,
    and a string equal to NAME is one the walk left unchanged and uncounted
    (``learn`` takes only such names, from ``LineProtector``'s walk with the same
    redactor). ``tests/pipeline/test_linescan.py`` checks it differentially, and that
    the tests fail for a key learned unverified or stripped outside key position.
    """

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._forms: list[tuple[bytes, tuple[tuple[bytes, bytes], ...]]] = []

    def learn(self, name: str, scanner: LineScanner) -> None:
        """Exempt ``name``: the caller has seen the walk leave it unchanged, uncounted."""
        if (
            name in self.names
            or len(self.names) >= _MAX_BENIGN_KEYS
            or _KEY_NAME.fullmatch(name) is None
        ):
            return
        quoted = b'"' + name.encode() + b'":'
        if not scanner.hits(quoted):
            return  # no trigger in it: nothing to exempt
        self.names.add(name)
        self._forms.append(
            (quoted, tuple((prefix + quoted, prefix + b'"":') for prefix in (b"{", b",")))
        )

    def strip(self, data: bytes) -> bytes | None:
        """``data`` without the learned keys' names; None when it holds none of them."""
        current = data
        found = False
        for quoted, replacements in self._forms:
            if quoted in current:
                found = True
                for form, short in replacements:
                    current = current.replace(form, short)
        return current if found else None


def _hex(literal: bytes) -> str:
    return "".join(f"\\x{byte:02x}" for byte in literal)


class LineScanner:
    """``hits(line)``: does the serialized line hold any trigger?"""

    def __init__(self, engine: str, hits: Callable[[bytes], bool]) -> None:
        self.engine = engine
        self.hits = hits


def _hyperscan(found: list[Trigger]) -> LineScanner:
    import hyperscan

    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[_hex(t.literal).encode() for t in found],
        ids=list(range(len(found))),
        elements=len(found),
        flags=[
            hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if t.caseless else 0)
            for t in found
        ],
    )
    scratch = hyperscan.Scratch(database)
    scan = database.scan
    terminated = hyperscan.ScanTerminated

    def stop(*_: object) -> bool:
        return True  # the first trigger is the answer: stop scanning

    def hits(line: bytes) -> bool:
        try:
            scan(line, match_event_handler=stop, scratch=scratch)
        except terminated:
            return True
        return False

    return LineScanner("hyperscan", hits)


def _re2(found: list[Trigger]) -> LineScanner:
    import re2

    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    parts = [f"(?i:{_hex(t.literal)})" if t.caseless else _hex(t.literal) for t in found]
    search = re2.compile("|".join(parts).encode(), options).search

    def hits(line: bytes) -> bool:
        return search(line) is not None

    return LineScanner("re2", hits)


def _python_re(found: list[Trigger]) -> LineScanner:
    """Not an engine the pipeline picks (slower than the walk it replaces): the tests'
    reference for what the engines must find."""
    parts = [f"(?i:{_hex(t.literal)})" if t.caseless else _hex(t.literal) for t in found]
    search = re.compile("|".join(parts).encode()).search

    def hits(line: bytes) -> bool:
        return search(line) is not None

    return LineScanner("re", hits)


_BUILDERS: dict[str, Callable[[list[Trigger]], LineScanner]] = {
    "hyperscan": _hyperscan,
    "re2": _re2,
    "re": _python_re,
}
_MODULES = {"hyperscan": "hyperscan", "re2": "re2"}


def available_engine() -> str | None:
    """The engine ``build_scanner`` would use here (without importing it: cheap)."""
    for engine, module in _MODULES.items():
        if importlib.util.find_spec(module) is not None:
            return engine
    return None


def fast_paths_report() -> str:
    """What a big spool would use here (``beacon --version``), without building anything."""
    if not fast_paths_enabled():
        return f"off ({FAST_PATHS_ENV}=0)"
    engine = available_engine()
    typed = importlib.util.find_spec("msgspec") is not None
    return (
        f"line scan {engine or 'none (every string walked)'}, "
        f"typed line check {'msgspec' if typed else 'none (orjson + schema)'}"
    )


def scanner_for(redactor: Redactor, engine: str | None = None) -> LineScanner | None:
    """The line scanner for ``redactor``'s rules and literal values; None when no engine
    is installed, or with user patterns (arbitrary regexes: no trigger stands for them)."""
    if redactor.user_patterns:
        return None
    anchors, anchors_cs = redactor.anchors()
    return build_scanner(triggers(anchors, anchors_cs, redactor.literal_values), engine)


def build_scanner(found: list[Trigger], engine: str | None = None) -> LineScanner | None:
    """A scanner for ``found``; None when no engine is installed (the walk then does all)."""
    names = [engine] if engine is not None else list(_MODULES)
    for name in names:
        try:
            return _BUILDERS[name](found)
        except Exception:  # noqa: S112  # not installed or fails to build: the next, or the walk
            continue
    return None
