"""``ci validate`` from parsed arguments to an exit code (no typer)."""

from __future__ import annotations

import json
import os

from beacon.cli.options import ValidateArgs
from beacon.errors import ExitCode, UsageError


def run_validate(args: ValidateArgs) -> int:
    from beacon.agents.harnesses import resolve_harnesses
    from beacon.config import resolve_paths
    from beacon.pipeline import validate_log
    from beacon.pipeline.report import render_validation

    if args.min_events < 0:
        raise UsageError("--min-events must not be negative")
    paths = resolve_paths(None, args.log_path, os.environ)
    harnesses = tuple(h.name for h in resolve_harnesses(args.harness or ["claude"]))
    result = validate_log(
        paths.log_path,
        session_id=args.session_id,
        harnesses=harnesses,
        min_events=args.min_events,
        require_actions=tuple(args.require_action),
    )
    if args.json_output:
        print(json.dumps(result.to_dict(), separators=(",", ":")))
    else:
        print(render_validation(result))
    return int(ExitCode.VALIDATION_FAILED) if result.status == "fail" else 0
