"""Command-line interface: the only place that prints for humans and exits the process."""

from __future__ import annotations

import sys

from beacon.errors import BeaconError


def _register_commands() -> None:
    # Importing a command module registers its commands on the typer apps.
    import importlib

    for module in ("ci_exec", "ci_session", "ci_validate"):
        try:
            importlib.import_module(f"beacon.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"beacon.cli.{module}":
                raise


def _fast_exec(argv: list[str]) -> int | None:
    """``ci exec`` without typer (see beacon.cli.argv); None when typer must handle it."""
    if argv[:2] != ["ci", "exec"]:
        return None
    from beacon.cli.argv import parse_exec_argv

    parsed = parse_exec_argv(argv[2:])
    if parsed is None:
        return None
    from beacon.cli.exec_flow import run_exec

    return run_exec(parsed)


def main() -> None:
    from beacon.cli.argv import normalize_argv

    argv = normalize_argv(sys.argv[1:])
    try:
        code = _fast_exec(argv)
        if code is not None:
            sys.exit(code)
        # typer is imported only here: `ci exec` is on every job's critical path.
        from beacon.cli.app import app

        _register_commands()
        app(args=argv)
    except BeaconError as exc:
        print(f"beacon: error: {exc}", file=sys.stderr)
        sys.exit(int(exc.exit_code))
