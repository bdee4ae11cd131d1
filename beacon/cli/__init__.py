"""Command-line interface: the only place that prints for humans and exits the process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from beacon.errors import BeaconError


def _register_commands() -> None:
    # Importing the module registers the table's commands on the typer apps.
    import beacon.cli.typer_commands  # noqa: F401


def _fast_path(argv: list[str]) -> int | None:
    """Every command of the option table, without typer (see beacon.cli.argv).

    None when typer must handle the command line (``--help``, errors, other
    commands).
    """
    from beacon.cli import argv as parsing

    found = parsing.find_command(argv)
    if found is None:
        return None
    spec, rest = found
    parsed = parsing.parse_options(
        rest, parsing.option_table(spec), spec.args(), command=spec.takes_command
    )
    if parsed is None:
        return None
    import importlib

    module, _, function = spec.runner.partition(":")
    runner: Callable[[Any], int] = getattr(importlib.import_module(module), function)
    return runner(parsed)


def _exit_now(code: int) -> None:
    """Exit without tearing the interpreter down (~0.05-0.3 s of GC on a busy runner).

    Every file beacon writes is closed by then; only the standard streams
    may hold buffered output.
    """
    import contextlib
    import os

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main() -> None:
    from beacon.cli.argv import normalize_argv

    argv = normalize_argv(sys.argv[1:])
    try:
        code = _fast_path(argv)
        if code is not None:
            _exit_now(code)
        # typer is imported only here: `ci exec` and the session commands sit
        # on every job's critical path.
        from beacon.cli.app import app

        _register_commands()
        app(args=argv)
    except BeaconError as exc:
        print(f"beacon: error: {exc}", file=sys.stderr)
        sys.exit(int(exc.exit_code))
