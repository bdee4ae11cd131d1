"""Make strings safe to store and print (pure).

Removes ANSI escape sequences and control characters (keeping ``\\n`` and
``\\t``), and replaces lone surrogates, which cannot be encoded as UTF-8,
with U+FFFD.
"""

from __future__ import annotations

import re

# CSI / OSC / other ESC sequences first, then single C0/C1 controls (not \t \n) and DEL.
_ANSI_RE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
# The characters sanitizing removes or replaces (redaction's clean check asks too).
_NEEDS_WORK_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def needs_sanitizing(text: str) -> bool:
    return _NEEDS_WORK_RE.search(text) is not None


def sanitize_text(text: str) -> str:
    """Return ``text`` without terminal escapes, control characters or lone surrogates."""
    if _NEEDS_WORK_RE.search(text) is None:
        return text
    text = _ANSI_RE.sub("", text)
    text = _CONTROL_RE.sub("", text)
    return _SURROGATE_RE.sub("\ufffd", text)
