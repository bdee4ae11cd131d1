"""What the pipeline is told to do: redaction settings and pipeline options."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from beacon.errors import UsageError

# Substrings of environment variable names whose values are treated as secrets.
SECRET_NAME_WORDS = (
    "TOKEN",
    "SECRET",
    "KEY",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "PASS",
    "AUTH",
    "PRIVATE",
    "COOKIE",
    "SIGNATURE",
)
# Name endings that hold a location or a flag, not a secret (SSH_AUTH_SOCK, *_KEY_FILE...).
_HARMLESS_NAME_SUFFIXES = (
    "_PATH",
    "_FILE",
    "_DIR",
    "_SOCK",
    "_HOME",
    "_URL_TEMPLATE",
    "_ID_TYPE",
    "_ENABLED",
    "_MODE",
    "_TYPE",
    "_NAME",
)
_HARMLESS_NAMES = frozenset({"SSH_AUTH_SOCK", "GPG_AGENT_INFO", "KEYCHAIN", "XAUTHORITY"})
_HARMLESS_VALUE_RE = re.compile(
    r"(?i)^(?:true|false|yes|no|on|off|none|null|[0-9.:\-]+|(?:/|~/|\./)[^\s]*)$"
)
# Set to "0" to turn every fast path of the pipeline off (the line scan, the typed line
# check): the output is byte-identical either way, which is how they are tested.
FAST_PATHS_ENV = "BEACON_FAST_PATHS"
MIN_SECRET_VALUE_LENGTH = 8
MIN_NAMED_VALUE_LENGTH = 4


def _is_secret_name(name: str) -> bool:
    upper = name.upper()
    if upper in _HARMLESS_NAMES or upper.endswith(_HARMLESS_NAME_SUFFIXES):
        return False
    return any(word in upper for word in SECRET_NAME_WORDS)


def _is_secret_value(value: str) -> bool:
    return len(value) >= MIN_SECRET_VALUE_LENGTH and _HARMLESS_VALUE_RE.match(value) is None


@dataclass(frozen=True)
class RedactionSettings:
    """Secrets to remove beyond the built-in families.

    ``env_values``: literal strings (values of secret-looking environment
    variables and of ``--redact-env`` names). ``patterns``: user regexes
    (``--redact-pattern``), already checked to compile.
    """

    env_values: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for pattern in self.patterns:
            _compile_user_pattern(pattern)

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        redact_env: Sequence[str] = (),
        patterns: Sequence[str] = (),
    ) -> RedactionSettings:
        named = set(redact_env)
        values: list[str] = []
        for name, value in environ.items():
            if name in named:
                # Even when asked for, a 1-3 character value would blank out ordinary text.
                if len(value) >= MIN_NAMED_VALUE_LENGTH:
                    values.append(value)
            elif _is_secret_name(name) and _is_secret_value(value):
                values.append(value)
        return cls(env_values=tuple(sorted(set(values))), patterns=tuple(patterns))

    def compiled_patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_compile_user_pattern(p) for p in self.patterns)


def fast_paths_enabled(environ: Mapping[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(FAST_PATHS_ENV, "1")
    return value.strip().lower() not in ("0", "off", "false", "no")


def _compile_user_pattern(pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise UsageError(
            f"invalid --redact-pattern {pattern!r}: {exc}",
            hint="use a Python regular expression",
        ) from exc
    return compiled


@dataclass(frozen=True)
class PipelineOptions:
    """How one pipeline run turns a spool into runtime.jsonl lines."""

    session_id: str
    log_path: Path
    harnesses: tuple[str, ...] = ("claude_code",)
    environ: Mapping[str, str] = field(default_factory=dict)
    redaction: RedactionSettings = field(default_factory=RedactionSettings)
    working_directory: str | None = None
    max_field_bytes: int = 8192
    max_line_bytes: int = 65536
    min_events: int = 1
    require_actions: tuple[str, ...] = ()
    withheld: frozenset[str] = frozenset()
    """Record attributes dropped before mapping (``--no-prompts``…; pipeline/content.py)."""
    # From this spool size on, a worker process shares the chunks on the second core
    # (beacon/pipeline/worker.py). Below it, starting a Python (~0.1-0.2 s) costs more
    # than it saves, and small ``ci exec`` runs must stay fast.
    parallel_min_bytes: int = 16 << 20
    # The fast paths (beacon/pipeline/linescan.py, typedcheck.py), on unless
    # BEACON_FAST_PATHS=0. Building them costs ~0.05-0.2 s, so a spool smaller than
    # ``fast_min_bytes`` (a few thousand events) does without: small runs stay fast.
    fast_paths: bool = field(default_factory=fast_paths_enabled)
    fast_min_bytes: int = 4 << 20

    def __post_init__(self) -> None:
        if self.max_field_bytes < 256:
            raise UsageError("max field size must be at least 256 bytes")
        if self.max_line_bytes < 4096:
            raise UsageError("max line size must be at least 4096 bytes")
        if self.min_events < 0:
            raise UsageError("min events must not be negative")
