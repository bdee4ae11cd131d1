"""Every supported Claude Code version, every protocol, both modes: the full workload.

The versions are the default pin and the oldest supported one (``claude_install``), or
``$BEACON_CLAUDE_VERSIONS`` (``nox -s claude-latest`` sets ``latest``). To keep the default
suite short it runs each version's ``ci exec`` on every protocol (the pin's are already in
``test_ci_exec``, five per protocol) and each version's session mode on one protocol, a
different one per version; ``nox -s agents-matrix`` runs every (version, protocol, mode)
``$BEACON_MATRIX_RUNS`` times.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from e2e.beacon_cli import BeaconRun, beacon, beacon_exec, job_dirs, read_github_env
from e2e.claude_install import (
    CLAUDE_CODE_VERSION,
    chosen_versions,
    ensure_claude_code,
    resolve_version,
)
from e2e.claude_runner import PROTOCOLS, hermetic_env
from e2e.messages_stub import MessagesStub
from e2e.runtime_checks import Line, check_claude_run, get, load_runtime, of_run, source
from e2e.scenarios import expect, full
from e2e.test_ci_session import github_job_env

MATRIX_RUNS = int(os.environ.get("BEACON_MATRIX_RUNS", "1"))
MODES = ("exec", "session")


def _in_default_suite(index: int, version: str, protocol: str, mode: str) -> bool:
    if mode == "exec":
        return version != CLAUDE_CODE_VERSION
    return protocol == SESSION_PROTOCOLS[index % len(SESSION_PROTOCOLS)]


SESSION_PROTOCOLS = ("http/json", "grpc", "http/protobuf")


def _cases() -> list[object]:
    cases: list[object] = []
    for index, version in enumerate(chosen_versions()):
        for protocol in PROTOCOLS:
            for mode in MODES:
                for run in range(MATRIX_RUNS):
                    default = run == 0 and _in_default_suite(index, version, protocol, mode)
                    marks = [] if default else [pytest.mark.matrix]
                    cases.append(pytest.param(version, protocol, mode, run, marks=marks))
    return cases


@pytest.fixture(scope="session")
def claude_bins() -> dict[str, tuple[str, Path]]:
    """Each chosen version (``latest`` resolved by npm) -> (exact version, installed binary)."""
    exact = {version: resolve_version(version) for version in chosen_versions()}
    return {version: (v, ensure_claude_code(version=v)) for version, v in exact.items()}


async def _session_run(
    command: list[str], protocol: str, root: Path, env: dict[str, str], work: Path
) -> tuple[list[Line], dict[str, object]]:
    """``session start``, the agent as a ``ci exec`` step joining it, ``session stop``."""
    github = github_job_env(root)
    job_env = {**env, **github}
    started = await beacon(["ci", "session", "start", "--protocol", protocol], job_env, work)
    assert started.returncode == 0, started.describe()
    exported = read_github_env(Path(github["GITHUB_ENV"]))
    step_env = {**job_env, **exported}
    step = await beacon(["ci", "exec", "--", *command], step_env, work)
    assert step.returncode == 0, step.describe()
    stopped = await beacon(["ci", "session", "stop", "--json"], step_env, work)
    assert stopped.returncode == 0, stopped.describe()
    result = json.loads(stopped.stdout.strip().splitlines()[-1])
    runtime = load_runtime(Path(exported["BEACON_CI_LOG_PATH"]))
    return of_run(runtime, result["session_id"]), result


@pytest.mark.parametrize(("version", "protocol", "mode", "run"), _cases())
async def test_version_captures_the_full_workload(
    version: str,
    protocol: str,
    mode: str,
    run: int,
    claude_bins: dict[str, tuple[str, Path]],
    stub: MessagesStub,
    tmp_path: Path,
) -> None:
    home, work, base = job_dirs(tmp_path)
    scenario = full(work)
    stub.use(scenario.script)
    exact, binary = claude_bins[version]
    command = [str(binary), *scenario.claude_args()]
    env = hermetic_env(home, stub.base_url)
    if mode == "exec":
        outcome = await beacon_exec(command, protocol=protocol, base_dir=base, env=env, cwd=work)
        assert outcome.process.returncode == 0, outcome.process.describe()
        result = outcome.result()
        lines = of_run(outcome.runtime(), result["session_id"])
    else:
        lines, result = await _session_run(command, protocol, tmp_path, env, work)
    assert result["validation"]["status"] == "ok", result["validation"]
    check_claude_run(lines, scenario, expect(scenario, exact), exit_code=0)
    claude_lines = [line for line in lines if get(line, "harness.name") == "claude_code"]
    assert {get(line, "harness.version") for line in claude_lines} == {exact}
    startup = [
        line
        for line in lines
        if source(line).get("event_name")
        in ("claude_code.plugin_loaded", "claude_code.managed_settings_resolved")
    ]
    assert all(get(line, "event.action") == "session.status" for line in startup)
    assert all(get(line, "session.id") for line in startup)
    assert scenario.planted_secret is not None
    assert scenario.planted_secret not in json.dumps(lines)


async def test_no_prompts_leaves_no_prompt_text_in_any_artifact(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    home, work, base = job_dirs(tmp_path)
    scenario = full(work)
    stub.use(scenario.script)
    run: BeaconRun = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol="http/protobuf",
        base_dir=base,
        env=hermetic_env(home, stub.base_url),
        cwd=work,
        options=["--no-prompts"],
    )
    assert run.process.returncode == 0, run.process.describe()
    prompt_words = scenario.script.prompt.split(scenario.planted_secret or "")[-1].strip()
    assert len(prompt_words) > 20
    for path in base.iterdir():
        if path.is_file():
            assert prompt_words not in path.read_text(encoding="utf-8", errors="replace"), path
    assert prompt_words not in run.process.stdout + run.process.stderr
    lines = of_run(run.runtime(), run.result()["session_id"])
    (started,) = [
        line for line in lines if source(line).get("event_name") == "beacon.child.started"
    ]
    marker = f"<prompt withheld: {len(scenario.script.prompt)} chars>"
    assert marker in get(started, "command.command")
    (prompt,) = [line for line in lines if get(line, "event.action") == "prompt.submitted"]
    assert get(prompt, "prompt.text") is None
    assert int(get(prompt, "raw.prompt_length")) == len(scenario.script.prompt)
