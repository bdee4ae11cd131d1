"""The GitHub Action (action.yml): its shell steps run for real against the installed beacon.

The runner itself cannot exist here, so the test plays its part the documented
way: inputs become the step's `env:`, `$GITHUB_ENV` / `$GITHUB_PATH` /
`$GITHUB_OUTPUT` are files read back between steps. The install step is only
syntax-checked (it would install beacon from PyPI into a fresh venv); the test
puts the already installed `beacon` where that step links it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml

from beacon.ci.github import parse_env_file

REPO = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
BEACON = Path(sys.executable).with_name("beacon")
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def _step(name: str) -> dict[str, Any]:
    return next(step for step in ACTION["runs"]["steps"] if step["name"] == name)


def _evaluate(template: str, inputs: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        raise AssertionError(f"the test does not evaluate {expression!r}")

    return EXPRESSION.sub(value, template)


def _inputs(**overrides: str) -> dict[str, str]:
    inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    inputs.update(overrides)
    return inputs


class Runner:
    """Just enough of the Actions runner: a job environment and the command files."""

    def __init__(self, tmp: Path) -> None:
        self.temp = tmp / "runner-temp"
        self.temp.mkdir()
        self.files = {name: tmp / name.lower() for name in ("GITHUB_ENV", "GITHUB_PATH")}
        for path in self.files.values():
            path.touch()
        scrubbed = ("OTEL_", "BEACON_", "GITHUB_", "RUNNER_", "CLAUDE_CODE_")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(scrubbed)}
        self.env.update(GITHUB_ACTIONS="true", RUNNER_TEMP=str(self.temp), CI="true")

    def step_env(self) -> dict[str, str]:
        env = dict(self.env)
        env.update(parse_env_file(self.files["GITHUB_ENV"].read_text(encoding="utf-8")))
        env.update({name: str(path) for name, path in self.files.items()})
        return env

    def run_step(
        self, name: str, inputs: dict[str, str]
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
        step = _step(name)
        output = self.temp.parent / f"output-{step.get('id', 'step')}"
        output.write_text("")
        env = self.step_env() | {"GITHUB_OUTPUT": str(output)}
        env.update({k: _evaluate(str(v), inputs) for k, v in step.get("env", {}).items()})
        result = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
        return result, outputs


def test_install_step_is_valid_bash_and_keeps_the_jobs_python() -> None:
    script = _step("Install beacon")["run"]
    subprocess.run(["bash", "-n", "-c", script], check=True, timeout=10)
    # Only the beacon command is put on PATH, never the venv's python.
    assert '>> "$GITHUB_PATH"' in script and "beacon-bin" in script


def test_start_agent_step_stop_produces_the_log_and_outputs(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    bin_dir = runner.temp / "beacon-bin"
    bin_dir.mkdir()
    (bin_dir / "beacon").symlink_to(BEACON)
    inputs = _inputs(harness="otel")

    started, _ = runner.run_step("Start the beacon session", inputs)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("::add-mask::")

    # A later step: inherits the session's exports through $GITHUB_ENV.
    agent = subprocess.run(
        [sys.executable, str(REPO / "examples" / "otel_hello.py")],
        env=runner.step_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert agent.returncode == 0, agent.stderr

    stopped, outputs = runner.run_step("Stop the beacon session", inputs)
    assert stopped.returncode == 0, stopped.stderr
    log = Path(outputs["log-path"])
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert any(line["harness"]["name"] == "otel" for line in lines)
    assert orjson.loads(Path(outputs["result-path"]).read_bytes())["validation"]["status"] == "ok"
    # The raw spool is not among what the upload step ships.
    upload = _step("Upload runtime.jsonl")
    assert "spool" not in upload["with"]["path"]


def test_stop_fails_the_step_when_nothing_arrived(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    bin_dir = runner.temp / "beacon-bin"
    bin_dir.mkdir()
    (bin_dir / "beacon").symlink_to(BEACON)
    inputs = _inputs()
    assert runner.run_step("Start the beacon session", inputs)[0].returncode == 0
    stopped, _ = runner.run_step("Stop the beacon session", inputs)
    assert stopped.returncode == 3, stopped.stderr

    lenient = _inputs(**{"require-telemetry": "false"})
    assert runner.run_step("Start the beacon session", lenient)[0].returncode == 0
    stopped, _ = runner.run_step("Stop the beacon session", lenient)
    assert stopped.returncode == 0, stopped.stderr
    assert "::warning::" in stopped.stdout
