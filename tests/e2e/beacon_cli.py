"""Drive the ``beacon`` command line as a CI job would: a subprocess per step."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.claude_runner import ProcessResult, run_process
from e2e.runtime_checks import Line, load_runtime

# The installed console script, as a CI job runs it (`python -m beacon` would
# import a `beacon/` artifact directory in the working directory instead).
BEACON = (str(Path(sys.executable).with_name("beacon")),)
SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class BeaconRun:
    process: ProcessResult
    base_dir: Path

    @property
    def runtime_path(self) -> Path:
        return self.base_dir / "runtime.jsonl"

    def runtime(self) -> list[Line]:
        return load_runtime(self.runtime_path)

    def result(self) -> dict[str, Any]:
        """The ``--json`` result object: the last stdout line."""
        lines = self.process.stdout.strip().splitlines()
        assert lines, self.process.describe()
        parsed = json.loads(lines[-1])
        assert isinstance(parsed, dict)
        return parsed


def job_dirs(root: Path) -> tuple[Path, Path, Path]:
    """A job's scratch HOME, working directory and beacon base dir under ``root``."""
    home, work, base = root / "home", root / "work", root / "beacon"
    for directory in (home, work):
        directory.mkdir(parents=True)
    return home, work, base


async def beacon(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, limit_s: float = 90.0
) -> ProcessResult:
    return await run_process([*BEACON, *args], env, cwd, limit_s=limit_s)


async def beacon_exec(
    command: Sequence[str],
    *,
    protocol: str,
    base_dir: Path,
    env: Mapping[str, str],
    cwd: Path,
    options: Sequence[str] = (),
) -> BeaconRun:
    args = [
        "ci",
        "exec",
        "--protocol",
        protocol,
        "--base-dir",
        str(base_dir),
        "--json",
        *options,
        "--",
        *command,
    ]
    return BeaconRun(await beacon(args, env, cwd), base_dir)


def github_env_blocks(text: str) -> list[tuple[str, str]]:
    """Every ``NAME<<DELIM`` block / ``NAME=value`` line of a GITHUB_ENV file, in order, read
    as the runner reads them (a variable set twice, by start and restored by stop, is two)."""
    blocks: list[tuple[str, str]] = []
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for part in lines:
                if part == delimiter:
                    break
                body.append(part)
            blocks.append((name, "\n".join(body)))
        elif "=" in line:
            name, value = line.split("=", 1)
            blocks.append((name, value))
    return blocks


def parse_github_env(text: str) -> dict[str, str]:
    """A GITHUB_ENV file's variables as the runner sets them (the last block of a name wins)."""
    return dict(github_env_blocks(text))


def read_github_env(path: Path) -> dict[str, str]:
    return parse_github_env(path.read_text(encoding="utf-8"))


def github_job_env(root: Path) -> dict[str, str]:
    """The variables a GitHub Actions runner gives every step of a job."""
    files = {name: root / name for name in ("github_env", "github_output", "step_summary")}
    for path in files.values():
        path.touch()
    (root / "runner_temp").mkdir()
    return {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_WORKFLOW": "e2e",
        "GITHUB_JOB": "agent",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_SHA": SHA,
        "GITHUB_REPOSITORY": "acme/widgets",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_ENV": str(files["github_env"]),
        "GITHUB_OUTPUT": str(files["github_output"]),
        "GITHUB_STEP_SUMMARY": str(files["step_summary"]),
        "RUNNER_TEMP": str(root / "runner_temp"),
        "RUNNER_ENVIRONMENT": "github-hosted",
    }
