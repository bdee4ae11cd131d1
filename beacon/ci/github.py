"""GitHub Actions: workflow commands, ``$GITHUB_ENV``, ``$GITHUB_OUTPUT``, the step summary.

Pure formatting plus one appending writer; the runner's own parser is the
contract (``NAME<<DELIMITER`` blocks, ``::command::`` lines).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from beacon.errors import BeaconError


def on_actions(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    # The runner's escaping for command data: % CR LF.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def add_mask(value: str) -> str:
    return f"::add-mask::{_escape_data(value)}"


def warning(message: str) -> str:
    return f"::warning::{_escape_data(message)}"


def error(message: str) -> str:
    return f"::error::{_escape_data(message)}"


def env_file_block(name: str, value: str) -> str:
    """One ``NAME<<DELIM`` block; the delimiter is random and never inside the value."""
    if not name or "=" in name or "\n" in name or "<<" in name:
        raise ValueError(f"invalid variable name {name!r}")
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value:
            break
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def append_env_file(path: Path, values: Mapping[str, str], *, name: str = "GITHUB_ENV") -> None:
    """Append ``values`` to ``$GITHUB_ENV`` (or ``$GITHUB_OUTPUT``: the same format)."""
    text = "".join(env_file_block(key, value) for key, value in values.items())
    _append(path, text, name)


def _append(path: Path, text: str, name: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise BeaconError(
            f"cannot append to {name} file {path}: {exc.strerror}",
            hint=f"run beacon in a GitHub Actions step, or unset {name}",
        ) from exc


#: GitHub refuses a step's summary file larger than this (the whole file, per step).
STEP_SUMMARY_LIMIT = 1024 * 1024


def summary_room(path: Path) -> int:
    """Bytes still free in the step summary (what earlier commands of the step left)."""
    try:
        used = path.stat().st_size
    except FileNotFoundError:
        used = 0
    except OSError as exc:
        raise BeaconError(f"cannot read GITHUB_STEP_SUMMARY file {path}: {exc.strerror}") from exc
    return max(0, STEP_SUMMARY_LIMIT - used)


def append_step_summary(path: Path, markdown: str) -> None:
    """Append markdown to ``$GITHUB_STEP_SUMMARY`` (the job's summary page)."""
    _append(path, markdown if markdown.endswith("\n") else markdown + "\n", "GITHUB_STEP_SUMMARY")


def output_file_path(environ: Mapping[str, str]) -> Path | None:
    value = environ.get("GITHUB_OUTPUT")
    return Path(value) if value else None


def step_summary_path(environ: Mapping[str, str]) -> Path | None:
    value = environ.get("GITHUB_STEP_SUMMARY")
    return Path(value) if value else None


def parse_env_file(text: str) -> dict[str, str]:
    """Read an env file the way the runner does (for tests and `session stop`)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            if index >= len(lines):
                raise ValueError(f"matching delimiter not found for {name!r}")
            index += 1
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values


def env_file_path(environ: Mapping[str, str]) -> Path | None:
    value = environ.get("GITHUB_ENV")
    return Path(value) if value else None
