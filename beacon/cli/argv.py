"""Command-line parsing that must not import typer.

``beacon ci exec`` sits on the critical path of every CI job: typer (and the
pydantic it coerces parameters with) costs ~0.15 s per start, so ``main()``
parses ``ci exec`` here and only falls back to typer for ``--help`` and for
anything this parser does not understand (typer then reports the error). A
test keeps this table and the typer command's options identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from beacon.config import parse_bool
from beacon.errors import UsageError

REQUIRE_TELEMETRY = "--require-telemetry"


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
    require_telemetry: str | None = None
    no_require_telemetry: bool = False
    keep_spool: bool = False
    min_events: int = 1
    require_action: list[str] = field(default_factory=list)
    redact_env: list[str] = field(default_factory=list)
    redact_pattern: list[str] = field(default_factory=list)
    json_output: bool = False
    quiet: bool = False


#: option -> (field, kind); kind: "flag", "value", "multi", "path", "int".
EXEC_OPTIONS: dict[str, tuple[str, str]] = {
    "--base-dir": ("base_dir", "path"),
    "--log-path": ("log_path", "path"),
    "--protocol": ("protocol", "value"),
    "--receivers": ("receivers", "value"),
    "--harness": ("harness", "multi"),
    "--no-traces": ("no_traces", "flag"),
    "--no-prompts": ("no_prompts", "flag"),
    "--no-tool-details": ("no_tool_details", "flag"),
    "--timeout": ("timeout", "value"),
    "--drain-quiet": ("drain_quiet", "value"),
    "--drain-max": ("drain_max", "value"),
    "--require-telemetry": ("require_telemetry", "value"),
    "--no-require-telemetry": ("no_require_telemetry", "flag"),
    "--keep-spool": ("keep_spool", "flag"),
    "--min-events": ("min_events", "int"),
    "--require-action": ("require_action", "multi"),
    "--redact-env": ("redact_env", "multi"),
    "--redact-pattern": ("redact_pattern", "multi"),
    "--json": ("json_output", "flag"),
    "--quiet": ("quiet", "flag"),
    "-q": ("quiet", "flag"),
}
assert {name for name, _ in EXEC_OPTIONS.values()} == {f.name for f in fields(ExecArgs)} - {
    "command"
}


def parse_exec_argv(argv: list[str]) -> ExecArgs | None:
    """``ci exec`` arguments (after ``ci exec``), or None to let typer handle them."""
    args = ExecArgs()
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            args.command = argv[index:]
            return args
        if not arg.startswith("-") or arg == "-":
            args.command = argv[index - 1 :]
            return args
        name, has_value, inline = arg.partition("=")
        spec = EXEC_OPTIONS.get(name)
        if spec is None:
            return None
        dest, kind = spec
        if kind == "flag":
            if has_value:
                return None
            setattr(args, dest, True)
            continue
        if has_value:
            value = inline
        elif index < len(argv):
            value = argv[index]
            index += 1
        else:
            return None
        if kind == "multi":
            getattr(args, dest).append(value)
        elif kind == "path":
            setattr(args, dest, Path(value))
        elif kind == "int":
            try:
                setattr(args, dest, int(value))
            except ValueError:
                return None
        else:
            setattr(args, dest, value)
    return args
