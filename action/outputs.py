"""The action's step outputs, from what beacon printed and wrote (standard library only).

Runs on the runner's own python3 (any 3.8+), after `ci exec`, `ci session start`
or `ci session stop` printed its --json result as the last stdout line.
Every declared output is written, empty when unknown (cost: never "0" for
unknown).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path
from typing import Any

OUTPUTS = (
    "log-path",
    "result-path",
    "report-path",
    "event-count",
    "status",
    "session-id",
    "exit-code",
    "cost-usd",
)
REPORT_FILES = ("report.html", "report.md", "report.json")


def last_json_line(path: Path) -> dict[str, Any]:
    """The last stdout line that is a JSON object (the child may print before it)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def base_dir() -> Path:
    explicit = os.environ.get("BEACON_CI_BASE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("RUNNER_TEMP") or "/tmp") / "beacon"


def text(value: Any) -> str:
    return "" if value is None else str(value)


def cost_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return (f"{value:.9f}".rstrip("0").rstrip(".")) or "0"


def run_outputs(mode: str, exit_code: int, printed: dict[str, Any]) -> dict[str, str]:
    base = base_dir()
    if mode == "start":
        state = read_json(Path(printed.get("state_path") or base / "session.json"))
        return {
            "log-path": text(state.get("log_path")),
            "session-id": text(printed.get("session_id") or state.get("session_id")),
            "exit-code": str(exit_code),
        }
    session_id = printed.get("session_id")
    result_path = base / "result.json"
    result = read_json(result_path)
    if not result or result.get("session_id") != session_id:
        # Not this run's: beacon failed before writing one, or there was no run.
        result, result_path_text = printed, ""
    else:
        result_path_text = str(result_path)
    validation = result.get("validation") or {}
    log_path = validation.get("log_path") or os.environ.get("BEACON_CI_LOG_PATH")
    if not log_path and result_path_text:
        log_path = str(base / "runtime.jsonl")
    report = read_json(base / "report.json")
    if report and (report.get("run") or {}).get("session_id") not in (None, session_id):
        report = {}
    reports = [base / name for name in REPORT_FILES if (base / name).is_file()]
    status = (report.get("run") or {}).get("status")
    if not status:
        # No validation: beacon failed early, or this exec joined a session
        # (its verdict comes at finish).
        status = "fail" if exit_code != 0 else validation.get("status", "")
    return {
        "log-path": text(log_path),
        "result-path": result_path_text,
        "report-path": str(reports[0]) if reports else "",
        "event-count": text(result.get("events_written")),
        "status": text(status),
        "session-id": text(session_id or result.get("session_id")),
        "exit-code": str(exit_code),
        "cost-usd": cost_text((report.get("totals") or {}).get("cost_usd")),
    }


def artifact_paths(outputs: dict[str, str]) -> list[str]:
    """What the artifact step uploads: the redacted log, result, reports; never the spool."""
    paths = [outputs.get("log-path", ""), outputs.get("result-path", "")]
    paths += [str(base_dir() / name) for name in REPORT_FILES]
    return [p for p in paths if p and Path(p).is_file()]


def block(name: str, value: str) -> str:
    delimiter = "ghadelimiter_" + secrets.token_hex(16)
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True, choices=("exec", "start", "finish"))
    parser.add_argument("--exit-code", type=int, required=True)
    parser.add_argument("--stdout", type=Path, required=True)
    args = parser.parse_args(argv)
    outputs = {name: "" for name in OUTPUTS}
    outputs.update(run_outputs(args.mode, args.exit_code, last_json_line(args.stdout)))
    paths = artifact_paths(outputs) if args.mode != "start" else []
    text_out = "".join(f"{name}={value}\n" for name, value in outputs.items())
    text_out += block("artifact-paths", "\n".join(paths))
    with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as handle:
        handle.write(text_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
