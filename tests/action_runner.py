"""Just enough of the GitHub Actions runner to run action.yml's composite steps for real.

The runner itself cannot exist here, so this plays its documented part:
inputs and contexts are substituted into each step's `if:`, `env:` and
`with:`; `run:` steps run with bash as the runner runs them, with
`$GITHUB_ENV`, `$GITHUB_PATH`, `$GITHUB_OUTPUT` (one file per step) and
`$GITHUB_STEP_SUMMARY` as files read back between steps. `uses:` steps
(setup-python, upload-artifact) are recorded with their evaluated `with:`.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from beacon.ci.github import parse_env_file

REPO = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}", re.DOTALL)
TOKEN = re.compile(r"\s*(&&|\|\||==|!=|!|\(|\)|,|'(?:[^']|'')*'|[A-Za-z_][\w.\-]*)")


def default_inputs(**overrides: str) -> dict[str, str]:
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    unknown = set(overrides) - set(inputs)
    assert not unknown, f"action.yml declares no input {unknown}"
    inputs.update(overrides)
    return inputs


class Expression:
    """GitHub's expression language, the subset action.yml uses.

    Values are strings; '' is false. `||` yields the first truthy operand and
    `&&` the first falsy one (or the last), as on GitHub; `==` compares
    case-insensitively.
    """

    def __init__(self, text: str, contexts: dict[str, Any]) -> None:
        self.tokens = [t for t in TOKEN.findall(text) if t]
        assert "".join(self.tokens) == re.sub(r"\s+", "", text) or not text.strip(), text
        self.contexts = contexts
        self.position = 0

    def value(self) -> str:
        result = self._or()
        assert self.position == len(self.tokens), f"unparsed: {self.tokens[self.position :]}"
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _or(self) -> str:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = left or right
        return left

    def _and(self) -> str:
        left = self._compare()
        while self._peek() == "&&":
            self._take()
            right = self._compare()
            left = right if left else left
        return left

    def _compare(self) -> str:
        left = self._unary()
        if self._peek() in ("==", "!="):
            op = self._take()
            right = self._unary()
            equal = left.lower() == right.lower()
            return "true" if equal == (op == "==") else ""
        return left

    def _unary(self) -> str:
        token = self._take()
        if token == "!":
            return "" if self._unary() else "true"
        if token == "(":
            inner = self._or()
            assert self._take() == ")"
            return inner
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if self._peek() == "(":
            return self._call(token)
        if token in ("true", "false"):
            return "true" if token == "true" else ""
        return self._lookup(token)

    def _call(self, name: str) -> str:
        self._take()
        args: list[str] = []
        while self._peek() != ")":
            args.append(self._or())
            if self._peek() == ",":
                self._take()
        self._take()
        if name == "always":
            return "true"
        if name == "format":
            return re.sub(r"\{(\d+)\}", lambda m: args[int(m.group(1)) + 1], args[0])
        raise AssertionError(f"the test runner does not evaluate {name}()")

    def _lookup(self, path: str) -> str:
        context, *parts = path.split(".")
        assert context in self.contexts, f"unknown context in {path!r}"
        if context == "inputs":
            assert parts and parts[0] in self.contexts["inputs"], f"undeclared input {path!r}"
        node: Any = self.contexts[context]
        for part in parts:
            node = node.get(part, "") if isinstance(node, dict) else ""
        return "" if node is None else str(node)


def evaluate(template: str, contexts: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda m: Expression(m.group(1), contexts).value(), template)


def condition(text: str | None, contexts: dict[str, Any]) -> bool:
    if text is None:
        return all(step["outcome"] != "failure" for step in contexts["steps"].values())
    expression = EXPRESSION.fullmatch(text.strip())
    return bool(Expression(expression.group(1) if expression else text, contexts).value())


@dataclass
class ActionRun:
    outcome: str
    outputs: dict[str, str]
    steps: dict[str, dict[str, Any]]
    uses: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    log: str = ""


class Runner:
    """One job: its environment and command files, persisting across action invocations."""

    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.temp = tmp / "runner-temp"
        self.temp.mkdir()
        self.files = {
            name: tmp / name.lower()
            for name in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
        }
        for path in self.files.values():
            path.touch()
        scrubbed = ("OTEL_", "BEACON_", "GITHUB_", "RUNNER_", "CLAUDE_CODE_")
        base = env if env is not None else dict(os.environ)
        self.env = {k: v for k, v in base.items() if not k.startswith(scrubbed)}
        self.env.update(
            GITHUB_ACTIONS="true",
            RUNNER_TEMP=str(self.temp),
            CI="true",
            GITHUB_JOB="agent",
            GITHUB_RUN_ATTEMPT="1",
        )
        self.job_index = "0"
        #: Inputs every use of the action in this job gets unless it sets them.
        self.defaults: dict[str, str] = {}
        self.outputs_made = 0

    def step_env(self) -> dict[str, str]:
        env = dict(self.env)
        env.update(parse_env_file(self.files["GITHUB_ENV"].read_text(encoding="utf-8")))
        extra = [p for p in self.files["GITHUB_PATH"].read_text().splitlines() if p]
        if extra:
            env["PATH"] = os.pathsep.join([*reversed(extra), env.get("PATH", "")])
        env.update({name: str(path) for name, path in self.files.items()})
        return env

    def run_script(
        self, script: str, env: dict[str, str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        # `shell: bash` on the runner: bash --noprofile --norc -eo pipefail {0}
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def uses(self, **inputs: str) -> ActionRun:
        """Run action.yml once, as `- uses: ./` with `with: inputs`."""
        contexts: dict[str, Any] = {
            "inputs": default_inputs(**(self.defaults | inputs)),
            "steps": {},
            "github": {"action_path": str(REPO)},
            "strategy": {"job-index": self.job_index},
            "runner": {"temp": str(self.temp), "os": "Linux", "arch": "X64"},
        }
        run = ActionRun(outcome="success", outputs={}, steps=contexts["steps"])
        for number, step in enumerate(ACTION["runs"]["steps"]):
            step_id = step.get("id", f"__step{number}")
            record: dict[str, Any] = {"outcome": "skipped", "outputs": {}}
            contexts["steps"][step_id] = record
            if not condition(step.get("if"), contexts):
                continue
            if "uses" in step:
                with_ = {k: evaluate(str(v), contexts) for k, v in step.get("with", {}).items()}
                run.uses.append((step["uses"], with_))
                record["outcome"] = "success"
                continue
            self.outputs_made += 1
            output_file = self.temp.parent / f"output-{self.outputs_made}"
            output_file.write_text("")
            env = self.step_env() | {
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_ACTION_PATH": str(REPO),
            }
            env.update({k: evaluate(str(v), contexts) for k, v in step.get("env", {}).items()})
            result = self.run_script(step["run"], env)
            run.log += f"--- {step['name']} (exit {result.returncode})\n"
            run.log += result.stdout + result.stderr
            record["outputs"] = parse_env_file(output_file.read_text(encoding="utf-8"))
            record["outcome"] = "success" if result.returncode == 0 else "failure"
            record["stdout"] = result.stdout
            if result.returncode != 0:
                run.outcome = "failure"
        run.outputs = {
            name: evaluate(spec["value"], contexts) for name, spec in ACTION["outputs"].items()
        }
        return run
