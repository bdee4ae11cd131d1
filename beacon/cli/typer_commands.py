"""typer commands built from the one option table (beacon.cli.options).

typer reads a command's parameters from its function's signature, so each
command gets a generated function whose signature lists the table's options
as ``Annotated[type, typer.Option(...)]`` parameters. typer then runs only for
``--help`` and for command lines the fast path declines (typer reports the
error); a command it does run goes through the same flow as the fast path.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand

from beacon.cli.app import app, ci_app, new_typer
from beacon.cli.argv import args_from_parameters
from beacon.cli.options import COMMANDS, GROUPS, CommandSpec, Option

_TYPES: dict[str, Any] = {
    "flag": bool,
    "int": int,
    "path": Path | None,
    "multi": list[str] | None,
}


class _UntypedArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Command(TyperCommand):
    """A command whose positional argument shows no ``<list[str]>`` in the help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                param.__class__ = _UntypedArgument


def _parameter(name: str, option: Option, default: object) -> inspect.Parameter:
    annotation = _TYPES.get(option.kind) or (str if isinstance(default, str) else str | None)
    info = typer.Option(*option.names, help=option.help, metavar=option.metavar or None)
    if option.kind == "multi":
        default = None
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[annotation, info],
        default=default,
    )


def run_command(spec: CommandSpec, args: object) -> int:
    module, _, function = spec.runner.partition(":")
    runner: Callable[[Any], int] = getattr(importlib.import_module(module), function)
    return runner(args)


def command_function(spec: CommandSpec) -> Callable[..., None]:
    """A function typer can register, with the table's options as its signature."""

    def command(**given: Any) -> None:
        raise typer.Exit(run_command(spec, args_from_parameters(spec.args, given)))

    parameters: list[inspect.Parameter] = []
    argument_help = spec.argument_help()
    if argument_help is not None:
        parameters.append(
            inspect.Parameter(
                "command",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[
                    list[str] | None,
                    typer.Argument(help=argument_help, metavar=spec.argument_metavar()),
                ],
                default=None,
            )
        )
    parameters += [_parameter(*entry) for entry in spec.options()]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__ = spec.path[-1]
    return command


def register_all() -> None:
    groups: dict[tuple[str, ...], typer.Typer] = {(): app, ("ci",): ci_app}
    for path, help_text in GROUPS.items():
        if path not in groups:
            group = new_typer(help=help_text, no_args_is_help=True)
            groups[path[:-1]].add_typer(group, name=path[-1])
            groups[path] = group
    for spec in COMMANDS:
        function = command_function(spec)
        settings = {"allow_interspersed_args": False} if spec.takes_command else None
        first_line = spec.help.split("\n", 1)[0]
        for index, path in enumerate((spec.path, *spec.aliases)):
            help_text = (
                spec.help if index == 0 else f"Alias of `{' '.join(spec.path)}`. {first_line}"
            )
            groups[path[:-1]].command(
                path[-1],
                cls=_Command,
                help=help_text,
                context_settings=settings,
                options_metavar="[OPTIONS] --" if spec.wraps_command else "[OPTIONS]",
            )(function)


register_all()
