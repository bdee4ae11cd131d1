"""Command-line interface: the only place that prints for humans and exits the process."""

from __future__ import annotations

import sys

from beacon.cli.app import app
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


def main() -> None:
    _register_commands()
    from beacon.cli.options import normalize_argv

    try:
        app(args=normalize_argv(sys.argv[1:]))
    except BeaconError as exc:
        print(f"beacon: error: {exc}", file=sys.stderr)
        sys.exit(int(exc.exit_code))
