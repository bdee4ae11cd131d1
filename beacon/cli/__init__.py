"""Command-line interface: the only place that prints for humans and exits the process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from beacon.errors import BeaconError


def _register_commands() -> None:
    # Importing a command module registers its commands on the typer apps.
    import importlib

    for module in ("ci_exec", "ci_session", "ci_validate", "fleet"):
        try:
            importlib.import_module(f"beacon.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"beacon.cli.{module}":
                raise


def _fast_path(argv: list[str]) -> int | None:
    """``ci exec`` and ``ci session …`` without typer (see beacon.cli.argv).

    None when typer must handle the command line (``--help``, errors, other
    commands).
    """
    from beacon.cli import argv as parsing

    parsed = parsing.parse_fast(argv)
    if parsed is None:
        return None
    if isinstance(parsed, parsing.ExecArgs):
        from beacon.cli.exec_flow import run_exec

        return run_exec(parsed)
    from beacon.cli import session_flow

    runners: dict[type, Callable[[Any], int]] = {
        parsing.StartArgs: session_flow.run_start,
        parsing.StopArgs: session_flow.run_stop,
        parsing.EnvArgs: session_flow.run_env,
        parsing.StatusArgs: session_flow.run_status,
    }
    return runners[type(parsed)](parsed)


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
