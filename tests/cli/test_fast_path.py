"""Every command is parsed without typer; typer's commands and the docs come from the same table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from beacon.cli.argv import EXEC_OPTIONS, FAST_COMMANDS, parse_exec_argv, parse_fast
from beacon.cli.options import COMMANDS, ExecArgs, ReportArgs, StopArgs, ValidateArgs
from beacon.cli.reference import PAGE, render_reference

from .helpers import CHILD, clean_env

REPO = Path(__file__).resolve().parents[2]


def typer_command(path: tuple[str, ...]) -> typer.core.TyperCommand:
    from beacon.cli import _register_commands
    from beacon.cli.app import app

    _register_commands()
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command  # type: ignore[return-value]


def typer_options(path: tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for param in typer_command(path).params:
        names.update(opt for opt in param.opts if opt.startswith("-"))
    names.discard("--help")
    return names


def help_text(*path: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "beacon", *path, "--help"],
        env=clean_env() | {"COLUMNS": "200", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("path", list(FAST_COMMANDS), ids=" ".join)
def test_fast_parser_and_typer_command_accept_the_same_options(path: tuple[str, ...]) -> None:
    table, _ = FAST_COMMANDS[path]
    assert set(table) == typer_options(path)


def test_exec_table_is_the_fast_table() -> None:
    assert FAST_COMMANDS[("ci", "exec")][0] is EXEC_OPTIONS


def test_every_typer_command_comes_from_the_table() -> None:
    from beacon.cli import _register_commands
    from beacon.cli.app import app

    _register_commands()

    def leaves(command: object, path: tuple[str, ...]) -> set[tuple[str, ...]]:
        children = getattr(command, "commands", None)
        if children is None:
            return {path}
        return set().union(*(leaves(c, (*path, n)) for n, c in children.items()))

    assert leaves(typer.main.get_command(app), ()) == set(FAST_COMMANDS)


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda spec: " ".join(spec.path))
def test_help_lists_every_option_with_its_help_and_no_type_labels(spec: object) -> None:
    text = help_text(*spec.path)  # type: ignore[attr-defined]
    # The help wraps lines (also after a hyphen): compare without whitespace.
    flat = "".join(text.split())
    for _, option, _ in spec.options():  # type: ignore[attr-defined]
        assert option.name in text
        assert "".join(option.help.split()) in flat, option.name
        if option.metavar:
            assert f"{option.name} {option.metavar}" in text
    # Flags take no value; typer's type labels (<bool>, <list[str]>) are not shown.
    assert "<bool>" not in text and "<list[str]>" not in text and "<str>" not in text


def test_validate_help_keeps_bracketed_text() -> None:
    flat = " ".join(help_text("ci", "validate").split())
    assert "[default: the most recent run]" in flat


def test_cli_reference_page_is_what_the_table_renders_now() -> None:
    page = (REPO / PAGE).read_text(encoding="utf-8")
    assert page == render_reference(), "run: python -m beacon.cli.reference"


def test_cli_reference_lists_every_option_of_every_command() -> None:
    page = render_reference()
    for spec in COMMANDS:
        section = page.split(f"## `beacon {' '.join(spec.path)}`", 1)[1].split("\n## ", 1)[0]
        for _, option, _ in spec.options():
            assert f"`{option.name}`" in section, (spec.path, option.name)


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
    assert parse_fast(["ci", "validate"]) == ValidateArgs()
    assert parse_fast(["ci", "report", "--format", "json"]) == ReportArgs(fmt="json")
    assert parse_fast(["ci", "no-such-command"]) is None


def test_typer_runs_a_command_through_the_same_flow_as_the_fast_path(tmp_path: Path) -> None:
    argv = ["ci", "validate", "--log-path", str(tmp_path / "missing.jsonl"), "--json"]
    via_typer = (
        "import sys\n"
        "from beacon.cli import _register_commands\n"
        "from beacon.cli.app import app\n"
        "_register_commands()\n"
        "app(args=sys.argv[1:])\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, *prefix, *argv],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for prefix in (["-m", "beacon"], ["-c", via_typer])
    ]
    assert [run.returncode for run in runs] == [3, 3]
    fast, typed = (json.loads(run.stdout.splitlines()[-1]) for run in runs)
    assert fast["stages"] == typed["stages"] and fast["status"] == "fail"
