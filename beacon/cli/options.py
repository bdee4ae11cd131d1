"""The typer options shared by several commands (the fast path parses in beacon.cli.argv).

Options are ``Annotated`` aliases so each command lists them once, with one
help text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from beacon.cli.argv import REQUIRE_TELEMETRY

BaseDir = Annotated[
    Path | None,
    typer.Option(
        "--base-dir",
        help="Where beacon keeps its artifacts (default: $BEACON_CI_BASE_DIR, "
        "else $RUNNER_TEMP/beacon, else <tmp>/beacon).",
        file_okay=False,
    ),
]
LogPath = Annotated[
    Path | None,
    typer.Option(
        "--log-path",
        help="Where runtime.jsonl goes "
        "(default: $BEACON_CI_LOG_PATH, else <base-dir>/runtime.jsonl).",
        dir_okay=False,
    ),
]
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print the result object as the last stdout line.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and warnings.")]

# Capture (collector + child environment)
Protocol = Annotated[str, typer.Option("--protocol", help="grpc, http/protobuf or http/json.")]
Receivers = Annotated[
    str | None,
    typer.Option("--receivers", help="Receivers to run: auto (the protocol's), http, grpc, all."),
]
HarnessOpt = Annotated[
    list[str] | None,
    typer.Option("--harness", help="claude (default; alias claude_code), otel, or a comma list."),
]
NoTraces = Annotated[bool, typer.Option("--no-traces", help="Do not ask the agent for spans.")]
NoPrompts = Annotated[
    bool, typer.Option("--no-prompts", help="Do not ask the agent for prompt text.")
]
NoToolDetails = Annotated[
    bool,
    typer.Option("--no-tool-details", help="Do not ask for tool parameters (commands, paths)."),
]
DrainQuiet = Annotated[
    str, typer.Option("--drain-quiet", help="Quiet period that ends the drain (e.g. 0.2, 200ms).")
]
DrainMax = Annotated[str, typer.Option("--drain-max", help="Longest drain (e.g. 5, 5s).")]
Fsync = Annotated[
    str,
    typer.Option(
        "--fsync",
        help="When acknowledged telemetry is forced to disk: always, batch (at most "
        "every 100 ms, default) or off. A crashed process loses nothing acknowledged "
        "in any mode; this is about a crashed host.",
    ),
]

# Finish (pipeline + exit code)
RequireTelemetry = Annotated[
    str | None,
    typer.Option(
        REQUIRE_TELEMETRY,
        help="true (default) or false, 1 or 0: exit 3 when validation fails.",
    ),
]
NoRequireTelemetry = Annotated[
    bool, typer.Option("--no-require-telemetry", help="Same as --require-telemetry=false.")
]
KeepSpool = Annotated[
    bool, typer.Option("--keep-spool", help="Keep the raw (unredacted) spool after success.")
]
MinEvents = Annotated[
    int, typer.Option("--min-events", help="Harness events required for validation.")
]
RequireAction = Annotated[
    list[str] | None,
    typer.Option("--require-action", help="An action that must be present (repeatable)."),
]
RedactEnv = Annotated[
    list[str] | None,
    typer.Option("--redact-env", help="Redact this environment variable's value (repeatable)."),
]
RedactPattern = Annotated[
    list[str] | None,
    typer.Option("--redact-pattern", help="Redact matches of this regex (repeatable)."),
]
