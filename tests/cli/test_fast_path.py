"""`ci exec` is parsed without typer; the two parsers must accept the same options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from beacon.cli.argv import (
    EXEC_OPTIONS,
    FAST_COMMANDS,
    ExecArgs,
    StopArgs,
    parse_exec_argv,
    parse_fast,
)

from .helpers import CHILD, clean_env


def typer_options(path: tuple[str, ...]) -> set[str]:
    from beacon.cli import _register_commands
    from beacon.cli.app import app

    _register_commands()
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    names: set[str] = set()
    for param in command.params:
        names.update(opt for opt in param.opts if opt.startswith("-"))
    names.discard("--help")
    return names


@pytest.mark.parametrize("path", list(FAST_COMMANDS), ids=" ".join)
def test_fast_parser_and_typer_command_accept_the_same_options(path: tuple[str, ...]) -> None:
    table, _ = FAST_COMMANDS[path]
    assert set(table) == typer_options(path)


def test_exec_table_is_the_fast_table() -> None:
    assert FAST_COMMANDS[("ci", "exec")][0] is EXEC_OPTIONS


def test_parses_values_in_both_forms_and_repeats() -> None:
    args = parse_exec_argv(
        [
            "--base-dir=/b",
            "--protocol",
            "grpc",
            "--harness",
            "claude",
            "--harness=otel",
            "--min-events",
            "3",
            "-q",
            "--no-require-telemetry",
            "--",
            "cmd",
            "--flag",
        ]
    )
    assert args == ExecArgs(
        command=["cmd", "--flag"],
        base_dir=Path("/b"),
        protocol="grpc",
        harness=["claude", "otel"],
        min_events=3,
        quiet=True,
        no_require_telemetry=True,
    )


def test_command_may_start_without_double_dash() -> None:
    args = parse_exec_argv(["--json", "claude", "-p", "hi"])
    assert args is not None
    assert args.command == ["claude", "-p", "hi"]
    assert args.json_output is True


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--unknown", "--", "x"],
        ["--min-events", "many", "--", "x"],
        ["--json=1"],
        ["--timeout"],
    ],
)
def test_anything_unusual_goes_to_typer(argv: list[str]) -> None:
    assert parse_exec_argv(argv) is None


def test_exec_over_http_imports_neither_typer_nor_grpc(tmp_path: Path) -> None:
    probe = (
        "import sys, json\n"
        "from beacon.cli import _fast_path\n"
        f"argv = ['ci', 'exec', '--base-dir', {str(tmp_path)!r}, '--quiet',"
        " '--no-require-telemetry', '--', *" + repr(CHILD) + "]\n"
        "assert _fast_path(argv) == 0\n"
        "heavy = ('typer', 'pydantic', 'grpc', 'rich', 'aiobotocore', 'gcloud')\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_session_commands_parse_without_positionals() -> None:
    parsed = parse_fast(["ci", "finish", "--require-telemetry=false", "--redact-env", "X"])
    assert parsed == StopArgs(require_telemetry="false", redact_env=["X"])
    assert parse_fast(["ci", "session", "stop", "stray"]) is None
    assert parse_fast(["ci", "validate"]) is None
