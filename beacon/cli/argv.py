"""Command-line parsing that must not import typer.

``beacon ci exec`` sits on the critical path of every CI job: typer (and the
pydantic it coerces parameters with) costs ~0.15 s per start, so ``main()``
parses ``ci exec`` here and only falls back to typer for ``--help`` and for
anything this parser does not understand (typer then reports the error). A
test keeps this table and the typer command's options identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

from beacon.config import parse_bool
from beacon.errors import UsageError

REQUIRE_TELEMETRY = "--require-telemetry"
T = TypeVar("T")


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
        if arg == REQUIRE_TELEMETRY:
            following = argv[index + 1] if index + 1 < len(argv) else None
            if following is None or following.startswith("-"):
                out.append(f"{REQUIRE_TELEMETRY}=true")
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


@dataclass
class ExecArgs:
    """Everything ``ci exec`` accepts; field names match the typer command's parameters."""

    command: list[str] = field(default_factory=list)
    base_dir: Path | None = None
    log_path: Path | None = None
    protocol: str = "http/protobuf"
    receivers: str | None = None
    harness: list[str] = field(default_factory=list)
    no_traces: bool = False
    no_prompts: bool = False
    no_tool_details: bool = False
    timeout: str | None = None
    drain_quiet: str = "0.2"
    drain_max: str = "5"
    fsync: str = "batch"
    require_telemetry: str | None = None
    no_require_telemetry: bool = False
    keep_spool: bool = False
    min_events: int = 1
    require_action: list[str] = field(default_factory=list)
    redact_env: list[str] = field(default_factory=list)
    redact_pattern: list[str] = field(default_factory=list)
    json_output: bool = False
    quiet: bool = False


#: Options shared by the commands below: option -> (field, kind).
#: kind: "flag", "value", "multi" (repeatable), "path", "int".
Table = dict[str, tuple[str, str]]

_PATHS: Table = {"--base-dir": ("base_dir", "path"), "--log-path": ("log_path", "path")}
_OUTPUT: Table = {
    "--json": ("json_output", "flag"),
    "--quiet": ("quiet", "flag"),
    "-q": ("quiet", "flag"),
}
_CAPTURE: Table = {
    "--protocol": ("protocol", "value"),
    "--receivers": ("receivers", "value"),
    "--harness": ("harness", "multi"),
    "--no-traces": ("no_traces", "flag"),
    "--no-prompts": ("no_prompts", "flag"),
    "--no-tool-details": ("no_tool_details", "flag"),
    "--drain-quiet": ("drain_quiet", "value"),
    "--drain-max": ("drain_max", "value"),
    "--fsync": ("fsync", "value"),
}
_FINISH: Table = {
    "--require-telemetry": ("require_telemetry", "value"),
    "--no-require-telemetry": ("no_require_telemetry", "flag"),
    "--keep-spool": ("keep_spool", "flag"),
    "--min-events": ("min_events", "int"),
    "--require-action": ("require_action", "multi"),
    "--redact-env": ("redact_env", "multi"),
    "--redact-pattern": ("redact_pattern", "multi"),
}

EXEC_OPTIONS: Table = {
    **_PATHS,
    **_CAPTURE,
    "--timeout": ("timeout", "value"),
    **_FINISH,
    **_OUTPUT,
}


@dataclass
class StartArgs:
    """``ci session start`` (alias ``ci start``)."""

    base_dir: Path | None = None
    log_path: Path | None = None
    protocol: str = "http/protobuf"
    receivers: str | None = None
    harness: list[str] = field(default_factory=list)
    no_traces: bool = False
    no_prompts: bool = False
    no_tool_details: bool = False
    max_duration: str = "6h"
    drain_quiet: str = "0.2"
    drain_max: str = "5"
    fsync: str = "batch"
    reuse: bool = False
    json_output: bool = False
    quiet: bool = False


START_OPTIONS: Table = {
    **_PATHS,
    **_CAPTURE,
    "--max-duration": ("max_duration", "value"),
    "--reuse": ("reuse", "flag"),
    **_OUTPUT,
}


@dataclass
class StopArgs:
    """``ci session stop`` (alias ``ci finish``)."""

    base_dir: Path | None = None
    log_path: Path | None = None
    require_telemetry: str | None = None
    no_require_telemetry: bool = False
    keep_spool: bool = False
    min_events: int = 1
    require_action: list[str] = field(default_factory=list)
    redact_env: list[str] = field(default_factory=list)
    redact_pattern: list[str] = field(default_factory=list)
    json_output: bool = False
    quiet: bool = False


STOP_OPTIONS: Table = {**_PATHS, **_FINISH, **_OUTPUT}


@dataclass
class EnvArgs:
    base_dir: Path | None = None
    fmt: str = "sh"


ENV_OPTIONS: Table = {"--base-dir": ("base_dir", "path"), "--format": ("fmt", "value")}


@dataclass
class StatusArgs:
    base_dir: Path | None = None
    json_output: bool = False


STATUS_OPTIONS: Table = {"--base-dir": ("base_dir", "path"), "--json": ("json_output", "flag")}

for _table, _args in (
    (EXEC_OPTIONS, ExecArgs),
    (START_OPTIONS, StartArgs),
    (STOP_OPTIONS, StopArgs),
    (ENV_OPTIONS, EnvArgs),
    (STATUS_OPTIONS, StatusArgs),
):
    assert {name for name, _ in _table.values()} == {f.name for f in fields(_args)} - {"command"}, (
        _args
    )


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


#: Command path -> (options table, argument class) for the typer-free fast path.
FAST_COMMANDS: dict[tuple[str, ...], tuple[Table, type]] = {
    ("ci", "exec"): (EXEC_OPTIONS, ExecArgs),
    ("ci", "session", "start"): (START_OPTIONS, StartArgs),
    ("ci", "start"): (START_OPTIONS, StartArgs),
    ("ci", "session", "stop"): (STOP_OPTIONS, StopArgs),
    ("ci", "finish"): (STOP_OPTIONS, StopArgs),
    ("ci", "session", "env"): (ENV_OPTIONS, EnvArgs),
    ("ci", "session", "status"): (STATUS_OPTIONS, StatusArgs),
}


def parse_fast(argv: list[str]) -> object | None:
    """The parsed arguments of a fast-path command, or None (typer handles it)."""
    for path, (table, cls) in FAST_COMMANDS.items():
        if tuple(argv[: len(path)]) == path:
            return parse_options(argv[len(path) :], table, cls(), command=cls is ExecArgs)
    return None


def args_from_parameters(cls: type[T], given: Mapping[str, object]) -> T:
    """The fast path's argument object from a typer command's parameters (``locals()``).

    The typer commands exist for ``--help`` and for what the fast path declines;
    building the same object makes both run one flow.
    """
    values = {f.name: given[f.name] for f in fields(cls) if given[f.name] is not None}  # type: ignore[arg-type]
    return cls(**values)
