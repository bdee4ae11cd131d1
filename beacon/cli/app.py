"""The typer applications. Commands are registered from the option table (typer_commands)."""

from __future__ import annotations

from typing import Any

import typer

from beacon import __version__
from beacon.cli.options import GROUPS


def new_typer(**settings: Any) -> typer.Typer:
    # Plain help: Rich markup would swallow "[default: ...]" in help texts and
    # label every flag with a value type (<bool>).
    return typer.Typer(rich_markup_mode=None, **settings)


app = new_typer(
    name="beacon",
    help="Capture, redact and validate the OpenTelemetry telemetry of AI coding agents in CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ci_app = new_typer(help=GROUPS[("ci",)], no_args_is_help=True)
app.add_typer(ci_app, name="ci")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"beacon {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """beacon: audited agent telemetry for CI."""
