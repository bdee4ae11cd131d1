"""The typer applications. Command modules register themselves on ``ci_app``."""

from __future__ import annotations

import typer

from beacon import __version__

app = typer.Typer(
    name="beacon",
    help="Capture, redact and validate the OpenTelemetry telemetry of AI coding agents in CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ci_app = typer.Typer(help="Commands for CI jobs.", no_args_is_help=True)
app.add_typer(ci_app, name="ci")


def _print_version(value: bool) -> None:
    if value:
        from beacon.pipeline.linescan import fast_paths_report

        typer.echo(f"beacon {__version__}")
        typer.echo(f"pipeline fast paths: {fast_paths_report()}")
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
