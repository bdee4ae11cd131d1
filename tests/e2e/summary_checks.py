"""Read the job summary (markdown) back, and compute its figures from runtime.jsonl alone.

The figures are computed here independently of ``beacon.report``: straight from the
runtime contract's fields (docs/runtime-schema.md), counting each API request on its
``api_request`` line and each command / file on the logs signal only.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.runtime_checks import Line, get, source

TOKEN_FIELDS = {
    "input": "gen_ai.usage.input_tokens",
    "output": "gen_ai.usage.output_tokens",
    "cache_read": "gen_ai.usage.cache_read.input_tokens",
    "cache_creation": "gen_ai.usage.cache_creation.input_tokens",
}


@dataclass(frozen=True)
class RunFigures:
    cost_usd: float
    tokens: dict[str, int]
    commands: list[str]  # in log order, once per run
    files_read: set[str]
    files_modified: set[str]


def read_text(path: str | Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def figures_from_runtime(lines: Iterable[Line]) -> RunFigures:
    cost: list[float] = []
    tokens = dict.fromkeys(TOKEN_FIELDS, 0)
    commands: list[str] = []
    read: set[str] = set()
    modified: set[str] = set()
    for line in lines:
        name = source(line).get("event_name")
        signal = source(line).get("signal")
        if name == "claude_code.api_request":
            cost.append(get(line, "gen_ai.usage.cost_usd"))
            for kind, field in TOKEN_FIELDS.items():
                tokens[kind] += get(line, field) or 0
        if signal != "logs":
            continue  # the claude_code.tool span repeats the tool_result event
        action = get(line, "event.action")
        if action == "command.executed":
            commands.append(get(line, "command.command"))
        elif action == "file.read":
            read.add(get(line, "file.path"))
        elif action == "file.modified":
            modified.add(get(line, "file.path"))
    return RunFigures(math.fsum(cost), tokens, commands, read, modified)


def tables(markdown: str) -> dict[str, list[dict[str, str]]]:
    """Every markdown table, keyed by its first header cell; cells HTML-unescaped."""
    found: dict[str, list[dict[str, str]]] = {}
    lines = markdown.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("| ") or index + 1 >= len(lines):
            continue
        if not re.fullmatch(r"\|(---\|)+", lines[index + 1]):
            continue
        header = _cells(line)
        rows = []
        for row in lines[index + 2 :]:
            if not row.startswith("| "):
                break
            rows.append(dict(zip(header, _cells(row), strict=True)))
        found.setdefault(header[0], rows)
    return found


def _cells(row: str) -> list[str]:
    parts = re.split(r"(?<!\\)\|", row.strip()[1:-1])
    return [_plain(part.strip()) for part in parts]


def _plain(cell: str) -> str:
    """What GitHub shows for a cell: tags gone, backslash escapes and entities resolved."""
    text = re.sub(r"</?code>", "", cell)
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text))


def money(text: str) -> float:
    assert text.startswith("$"), text
    return float(text[1:].replace(",", ""))


def number(text: str) -> int:
    return int(text.replace(",", ""))


def summary_tokens(cell: str) -> dict[str, int]:
    values = [number(part) for part in cell.split(" / ")]
    return dict(zip(TOKEN_FIELDS, values, strict=True))


def check_summary(markdown: str, expected: RunFigures, *, sessions: int) -> dict[str, Any]:
    """The summary's figures equal ``expected``; returns the parsed tables."""
    found = tables(markdown)
    (run,) = found["run"]
    cost = money(run["cost"])
    decimals = len(run["cost"].split(".")[1])
    assert cost > 0
    assert abs(cost - expected.cost_usd) <= 0.5 * 10**-decimals, (run["cost"], expected)
    assert summary_tokens(run["tokens in / out / cache read / cache write"]) == expected.tokens
    (activity,) = found["sessions"]
    assert number(activity["sessions"]) == sessions
    assert number(activity["commands"]) == len(expected.commands)
    assert number(activity["files read"]) == len(expected.files_read)
    assert number(activity["files modified"]) == len(expected.files_modified)
    shown_commands = [row["command"] for row in found.get("#", [])]
    assert shown_commands == list(dict.fromkeys(expected.commands))
    assert {row["file modified"] for row in found.get("file modified", [])} == (
        expected.files_modified
    )
    assert {row["file read"] for row in found.get("file read", [])} == expected.files_read
    return found
