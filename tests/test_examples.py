"""examples/: the shell script runs for real; the CI files hold only valid beacon command lines.

The GitHub workflows are also checked by actionlint (`nox -s lint`,
scripts/lint_actions.py); examples/otel_hello.py runs in tests/test_action.py
and tests/cli.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from beacon.cli.argv import parse_fast
from beacon.paths import ArtifactPaths
from tests.action_runner import ACTION
from tests.cli.helpers import clean_env

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
WORKFLOWS = sorted((EXAMPLES / "github").glob("*.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def run_any_ci(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", str(EXAMPLES / "any-ci.sh"), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_shell_script_captures_a_run_into_dot_beacon(tmp_path: Path) -> None:
    hello = str(EXAMPLES / "otel_hello.py")
    result = run_any_ci(tmp_path, "--harness", "otel", "--", sys.executable, hello)
    assert result.returncode == 0, result.stderr
    paths = ArtifactPaths.create(tmp_path / ".beacon")
    verdict = orjson.loads(paths.result_path.read_bytes())
    assert verdict["validation"]["status"] == "ok"
    lines = [orjson.loads(line) for line in paths.log_path.read_bytes().splitlines()]
    assert any(line["harness"]["name"] == "otel" for line in lines)


def test_the_shell_script_exits_with_the_commands_code(tmp_path: Path) -> None:
    result = run_any_ci(tmp_path, "--no-require-telemetry", "--", "bash", "-c", "exit 4")
    assert result.returncode == 4
    assert "beacon: exit 4" in result.stderr


def beacon_lines(script: list[str]) -> list[list[str]]:
    found = []
    for line in script:
        words = shlex.split(line)
        for index, word in enumerate(words):
            if word.endswith("/beacon") or word == "beacon":
                found.append(words[index + 1 :])
    return found


def test_the_gitlab_job_runs_valid_beacon_commands_and_keeps_its_files() -> None:
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8"))["agent"]
    commands = beacon_lines(job["script"])
    assert commands, "the job runs beacon"
    for argv in commands:
        parsed = parse_fast(argv)
        assert parsed is not None, argv
        assert getattr(parsed, "command", None), "ci exec wraps the agent"
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    kept = {Path(p).name for p in artifacts["paths"]}
    paths = ArtifactPaths.create(Path(".beacon"))
    assert {paths.log_path.name, paths.result_path.name} <= kept
    assert not any("spool" in p for p in artifacts["paths"])
    assert job["variables"]["BEACON_CI_BASE_DIR"] == "$CI_PROJECT_DIR/.beacon"


def steps(workflow: Path) -> list[dict[str, object]]:
    document = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    return [step for job in document["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_use_only_declared_inputs_and_pin_other_actions(workflow: Path) -> None:
    text = workflow.read_text(encoding="utf-8").splitlines()
    for step in steps(workflow):
        uses = step.get("uses")
        if not isinstance(uses, str):
            continue
        if uses == "OWNER/beacon@REF":
            given = dict(step.get("with") or {})  # type: ignore[call-overload]
            assert set(given) <= set(ACTION["inputs"]), workflow.name
            assert given.get("mode") in ("exec", "start", "finish")
            continue
        assert SHA_PIN.match(uses), f"{workflow.name}: {uses} is not pinned by commit SHA"
        line = next(i for i, t in enumerate(text) if uses in t)
        assert re.search(r"#.*\bv\d+(\.\d+)*\s*$", text[line - 1]), f"{uses}: no version comment"


def test_the_action_pins_its_actions_by_sha_with_the_version() -> None:
    text = (REPO / "action.yml").read_text(encoding="utf-8").splitlines()
    used = [s["uses"] for s in ACTION["runs"]["steps"] if "uses" in s]
    assert used
    for uses in used:
        assert SHA_PIN.match(uses), uses
        line = next(i for i, t in enumerate(text) if uses in t)
        assert re.search(r"#.*\bv\d+\.\d+\.\d+\s*$", text[line - 1]), uses


def test_a_session_workflow_finishes_under_always() -> None:
    for workflow in WORKFLOWS:
        beacon = [s for s in steps(workflow) if s.get("uses") == "OWNER/beacon@REF"]
        modes = [dict(s["with"]).get("mode") for s in beacon]  # type: ignore[call-overload]
        if "start" in modes:
            finish = beacon[modes.index("finish")]
            assert finish.get("if") == "always()", workflow.name
