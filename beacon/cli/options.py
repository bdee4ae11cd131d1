"""Options shared by several commands, and the parsing typer cannot do itself."""

from __future__ import annotations

from typing import Any

import typer

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


def base_dir_option() -> Any:
    return typer.Option(
        None,
        "--base-dir",
        help="Where beacon keeps its artifacts [default: $BEACON_CI_BASE_DIR, "
        "else $RUNNER_TEMP/beacon, else <tmp>/beacon].",
        file_okay=False,
    )


def log_path_option() -> Any:
    return typer.Option(
        None,
        "--log-path",
        help="Where runtime.jsonl goes "
        "[default: $BEACON_CI_LOG_PATH, else <base-dir>/runtime.jsonl].",
        dir_okay=False,
    )


def json_option() -> Any:
    return typer.Option(False, "--json", help="Print the result object as the last stdout line.")


def quiet_option() -> Any:
    return typer.Option(False, "--quiet", "-q", help="Print only errors and warnings.")
