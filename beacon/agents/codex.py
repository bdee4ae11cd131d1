"""Codex CLI's telemetry configuration: a beacon-owned ``CODEX_HOME`` (pure but for files).

Codex has no environment switch for OpenTelemetry, only the ``[otel]`` table of
``$CODEX_HOME/config.toml``, and the same directory holds the user's auth, config, history
and sessions. beacon therefore never edits the user's files: it builds
``<base-dir>/codex-home/`` where

* every entry of the user's ``CODEX_HOME`` (``$CODEX_HOME``, else ``~/.codex``) except
  ``config.toml`` is a symbolic link to the original (auth refreshes, history and sessions
  land in the user's own directory);
* ``config.toml`` is the user's text with any ``[otel]`` table removed, followed by
  beacon's ``[otel]`` table;

and points ``CODEX_HOME`` there for the wrapped command (or the session's steps).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path

from beacon.errors import UsageError

HOME_DIR_NAME = "codex-home"
CONFIG_NAME = "config.toml"
_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")


def user_codex_home(environ: Mapping[str, str]) -> Path:
    configured = environ.get("CODEX_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path(environ.get("HOME") or Path.home()).expanduser() / ".codex"


def _toml(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(value)


def _exporter(protocol: str, endpoint: str, signal: str, token: str) -> str:
    headers = f"{{ {_toml('authorization')} = {_toml('Bearer ' + token)} }}"
    if protocol == "grpc":
        return f"{{ otlp-grpc = {{ endpoint = {_toml(endpoint)}, headers = {headers} }} }}"
    url = f"{endpoint.rstrip('/')}/v1/{signal}"  # used verbatim: the full path
    body = "json" if protocol == "http/json" else "binary"
    return (
        f"{{ otlp-http = {{ endpoint = {_toml(url)}, protocol = {_toml(body)}, "
        f"headers = {headers} }} }}"
    )


def otel_table(*, protocol: str, endpoint: str, token: str, prompts: bool, traces: bool) -> str:
    """beacon's ``[otel]`` table. Every exporter is set: an unset ``metrics_exporter``
    sends the job's metrics to OpenAI."""
    trace = _exporter(protocol, endpoint, "traces", token) if traces else '"none"'
    return "\n".join(
        [
            "[otel]",
            'environment = "ci"',
            f"log_user_prompt = {'true' if prompts else 'false'}",
            f"exporter = {_exporter(protocol, endpoint, 'logs', token)}",
            f"metrics_exporter = {_exporter(protocol, endpoint, 'metrics', token)}",
            f"trace_exporter = {trace}",
            "",
        ]
    )


def without_otel(text: str) -> str:
    """The user's config text without its ``[otel]`` (and ``[otel.*]``) tables."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        header = _TABLE_HEADER.match(line)
        if header:
            name = header.group(1).replace('"', "").replace("'", "").strip()
            skipping = name == "otel" or name.startswith("otel.")
        if not skipping:
            kept.append(line)
    result = "\n".join(kept)
    try:
        parsed = tomllib.loads(result)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"cannot read the Codex config: {exc}", hint="fix $CODEX_HOME/config.toml"
        ) from None
    if "otel" in parsed:
        raise UsageError(
            "the Codex config sets otel outside an [otel] table",
            hint="move its otel settings into an [otel] table; beacon replaces that table",
        )
    return result


def remove_codex_home(base_dir: Path) -> None:
    """Remove what :func:`prepare_codex_home` made (links and a config holding the token)
    and what Codex created there itself when the user's home had no such entry (sessions,
    logs of this job). Links are removed, never followed: the user's files stay."""
    target = base_dir / HOME_DIR_NAME
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target, ignore_errors=True)


def prepare_codex_home(
    base_dir: Path,
    environ: Mapping[str, str],
    *,
    protocol: str,
    endpoint: str,
    token: str,
    prompts: bool,
    traces: bool,
) -> Path:
    """Build ``<base_dir>/codex-home`` (replacing an earlier one); returns its path."""
    user_home = user_codex_home(environ)
    target = base_dir / HOME_DIR_NAME
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in target.iterdir():
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
    user_config = ""
    if user_home.is_dir() and user_home.resolve() != target.resolve():
        for entry in sorted(user_home.iterdir()):
            if entry.name == CONFIG_NAME:
                user_config = entry.read_text(encoding="utf-8")
                continue
            (target / entry.name).symlink_to(entry.absolute())
    config = without_otel(user_config).rstrip("\n")
    table = otel_table(
        protocol=protocol, endpoint=endpoint, token=token, prompts=prompts, traces=traces
    )
    text = f"{config}\n\n{table}" if config else table
    tomllib.loads(text)  # what Codex will read must parse
    path = target / CONFIG_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target
