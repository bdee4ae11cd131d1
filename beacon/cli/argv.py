"""Command-line parsing that must not import typer.

``beacon ci exec`` sits on the critical path of every CI job: typer (and the
pydantic it coerces parameters with) costs ~0.15 s per start, so ``main()``
parses ``ci exec`` here and only falls back to typer for ``--help`` and for
anything this parser does not understand (typer then reports the error). A
test keeps this table and the typer command's options identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

from beacon.cli.options import COMMANDS, REQUIRE_TELEMETRY, UPLOAD_REQUIRED, CommandSpec, ExecArgs
from beacon.config import parse_bool
from beacon.errors import UsageError

T = TypeVar("T")
#: Boolean options that take a value; alone they mean true.
_VALUED_BOOLEANS = (REQUIRE_TELEMETRY, UPLOAD_REQUIRED)


def normalize_argv(argv: list[str]) -> list[str]:
    """Let ``--require-telemetry`` stand alone, as in the Go tool.

    typer boolean flags take no value, so the option is a string; a bare
    ``--require-telemetry`` (followed by nothing, ``--`` or another option)
    becomes ``--require-telemetry=true``. Nothing after ``--`` is touched.
    """
    out: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[index:])
            break
        if arg in _VALUED_BOOLEANS:
            following = argv[index + 1] if index + 1 < len(argv) else None
            if following is None or following.startswith("-"):
                out.append(f"{arg}=true")
                continue
        out.append(arg)
    return out


def require_telemetry(value: str | None, disabled: bool) -> bool:
    if disabled and value is not None and parse_bool(value, option=REQUIRE_TELEMETRY):
        raise UsageError(
            "--require-telemetry=true and --no-require-telemetry contradict each other",
            hint="pass only one of them",
        )
    if disabled:
        return False
    return True if value is None else parse_bool(value, option=REQUIRE_TELEMETRY)


#: option name -> (field, kind), derived from the one table in beacon.cli.options.
Table = dict[str, tuple[str, str]]


def option_table(spec: CommandSpec) -> Table:
    return {
        name: (dest, option.kind) for dest, option, _ in spec.options() for name in option.names
    }


#: Command path (aliases included) -> its spec, for the typer-free fast path.
SPECS: dict[tuple[str, ...], CommandSpec] = {
    path: spec for spec in COMMANDS for path in (spec.path, *spec.aliases)
}
#: Command path -> (options table, argument class).
FAST_COMMANDS: dict[tuple[str, ...], tuple[Table, type]] = {
    path: (option_table(spec), spec.args) for path, spec in SPECS.items()
}
EXEC_OPTIONS: Table = FAST_COMMANDS[("ci", "exec")][0]


def _apply(args: object, spec: tuple[str, str], value: str | None) -> bool:
    dest, kind = spec
    if kind == "flag":
        setattr(args, dest, True)
    elif kind == "multi":
        getattr(args, dest).append(value)
    elif kind == "path":
        setattr(args, dest, Path(str(value)))
    elif kind == "int":
        try:
            setattr(args, dest, int(str(value)))
        except ValueError:
            return False
    else:
        setattr(args, dest, value)
    return True


def parse_options(argv: list[str], table: Table, args: T, *, command: bool = False) -> T | None:
    """Fill ``args`` from ``argv``; None for anything typer should report or handle.

    With ``command``, the first positional argument (or whatever follows
    ``--``) starts the command to run, as with click's
    ``allow_interspersed_args=False``.
    """
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if command and arg == "--":
            args.command = argv[index:]  # type: ignore[attr-defined]
            return args
        if not arg.startswith("-") or arg == "-":
            if not command:
                return None
            args.command = argv[index - 1 :]  # type: ignore[attr-defined]
            return args
        name, has_value, inline = arg.partition("=")
        spec = table.get(name)
        if spec is None:
            return None
        value: str | None = None
        if spec[1] == "flag":
            if has_value:
                return None
        elif has_value:
            value = inline
        elif index < len(argv):
            value = argv[index]
            index += 1
        else:
            return None
        if not _apply(args, spec, value):
            return None
    return args


def parse_exec_argv(argv: list[str]) -> ExecArgs | None:
    """``ci exec`` arguments (after ``ci exec``), or None to let typer handle them."""
    return parse_options(argv, EXEC_OPTIONS, ExecArgs(), command=True)


def find_command(argv: list[str]) -> tuple[CommandSpec, list[str]] | None:
    """The command ``argv`` names and the arguments after its name, or None."""
    for path, spec in SPECS.items():
        if tuple(argv[: len(path)]) == path:
            return spec, argv[len(path) :]
    return None


def parse_fast(argv: list[str]) -> object | None:
    """The parsed arguments of a command, or None (typer handles it)."""
    found = find_command(argv)
    if found is None:
        return None
    spec, rest = found
    return parse_options(rest, option_table(spec), spec.args(), command=spec.takes_command)


def args_from_parameters(cls: type[T], given: Mapping[str, object]) -> T:
    """The fast path's argument object from a typer command's parameters (``locals()``).

    The typer commands exist for ``--help`` and for what the fast path declines;
    building the same object makes both run one flow.
    """
    values = {f.name: given[f.name] for f in fields(cls) if given[f.name] is not None}  # type: ignore[arg-type]
    return cls(**values)
