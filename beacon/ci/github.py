"""GitHub Actions: workflow commands and the ``$GITHUB_ENV`` file.

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


def append_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Append ``values`` to ``$GITHUB_ENV`` so later steps see them."""
    text = "".join(env_file_block(name, value) for name, value in values.items())
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise BeaconError(
            f"cannot append to GITHUB_ENV file {path}: {exc.strerror}",
            hint="run beacon in a GitHub Actions step, or unset GITHUB_ENV",
        ) from exc


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
