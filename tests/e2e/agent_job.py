"""One CI job around a real agent CLI and its stub API, as a process of its own.

The tests run it inside a loopback-only network namespace when they run as root
(``unshare -n``, loopback brought up first), so the agent, its stub API and beacon's
collector share a loopback nothing else can reach, and a call home fails at once:

    python tests/e2e/agent_job.py SPEC.json

``SPEC.json`` names the agent, the scenario, the protocol, the mode (``exec`` or
``session``), the beacon options and the directories; the job writes ``outcome.json``
beside it: each step's exit code and output, and the requests the stub saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from e2e.agent_scenarios import (  # noqa: E402
    CODEX_SCENARIOS,
    GEMINI_SCENARIOS,
    codex_env,
    gemini_env,
)
from e2e.beacon_cli import BEACON, parse_github_env  # noqa: E402
from e2e.claude_runner import (  # noqa: E402
    ProcessResult,
    hermetic_env,
    run_process,
)
from e2e.gemini_stub import GeminiStub  # noqa: E402
from e2e.messages_stub import MessagesStub  # noqa: E402
from e2e.responses_stub import ResponsesStub  # noqa: E402
from e2e.scenarios import build  # noqa: E402

STEP_LIMIT_S = 180.0


@dataclass
class JobSpec:
    agent: str
    binary: str
    scenario: str
    protocol: str
    mode: str
    home: str
    work: str
    base: str
    options: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    agents: list[list[str]] = field(default_factory=list)
    """Several ``[agent, binary, scenario]`` as steps of one session (``mode`` session)."""


def in_namespace_command(spec_path: Path, script: Path | None = None) -> list[str]:
    """The argv that runs the job (this module, or another job ``script`` such as
    ``leak_job.py``): inside ``unshare -n`` as root, directly otherwise."""
    job = [sys.executable, str(script or Path(__file__).resolve()), str(spec_path)]
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return job
    script = 'ip link set lo up && exec "$@"'
    return ["unshare", "-n", "sh", "-c", script, "agent-job", *job]


async def _session(
    spec: JobSpec, env: dict[str, str], commands: list[tuple[list[str], dict[str, str]]]
) -> list[ProcessResult]:
    """``session start``, one ``ci exec`` step per command, ``session stop``."""
    work = Path(spec.work)
    github_env = Path(spec.base).parent / "github_env"
    github_env.touch()
    job_env = {**env, "GITHUB_ENV": str(github_env), "BEACON_CI_BASE_DIR": spec.base}
    start = [*BEACON, "ci", "session", "start", "--protocol", spec.protocol, *spec.options]
    started = await run_process(start, job_env, work, limit_s=60)
    if started.returncode != 0:
        return [started]
    exported = parse_github_env(github_env.read_text(encoding="utf-8"))
    steps = [started]
    for command, agent_env in commands:
        step_env = {**job_env, **agent_env, **exported}
        argv = [*BEACON, "ci", "exec", "--", *command]
        steps.append(await run_process(argv, step_env, work, STEP_LIMIT_S))
    stop = [*BEACON, "ci", "session", "stop", "--json"]
    steps.append(await run_process(stop, {**job_env, **exported}, work, limit_s=60))
    return steps


async def _start_agent(agent: str, binary: str, scenario_name: str, spec: JobSpec) -> Any:
    """The agent's started stub, its environment and its command."""
    home, work = Path(spec.home), Path(spec.work)
    stub: Any
    if agent == "gemini":
        stub, scenario = GeminiStub(), GEMINI_SCENARIOS[scenario_name](work)
        make_env, args = gemini_env, scenario.args()
    elif agent == "codex":
        stub, scenario = ResponsesStub(), CODEX_SCENARIOS[scenario_name](work)
        make_env, args = codex_env, scenario.args()
    elif agent == "claude":
        stub, scenario = MessagesStub(), build(scenario_name, work)
        make_env, args = hermetic_env, scenario.claude_args()
    else:
        raise ValueError(f"unknown agent {agent!r}")
    await stub.start()
    stub.use(scenario.script)
    env = {**make_env(home, stub.base_url), **spec.extra_env}
    return stub, env, [binary, *args]


async def run_job(spec: JobSpec) -> dict[str, Any]:
    agents = spec.agents or [[spec.agent, spec.binary, spec.scenario]]
    started = [await _start_agent(*agent, spec) for agent in agents]
    try:
        if spec.mode == "exec":
            _, env, command = started[0]
            args = ["ci", "exec", "--protocol", spec.protocol, "--base-dir", spec.base, "--json"]
            argv = [*BEACON, *args, *spec.options, "--", *command]
            steps = [await run_process(argv, env, Path(spec.work), limit_s=STEP_LIMIT_S)]
        else:
            commands = [(command, env) for _, env, command in started]
            steps = await _session(spec, started[0][1], commands)
    finally:
        for stub, _, _ in started:
            await stub.stop()
    stub = started[0][0]
    return {
        "steps": [asdict(step) for step in steps],
        "requests": [request.kind for request in stub.requests],
        "paths": [getattr(request, "path", "") for request in stub.requests],
    }


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = JobSpec(**json.loads(spec_path.read_text(encoding="utf-8")))
    outcome = asyncio.run(run_job(spec))
    spec_path.with_name("outcome.json").write_text(json.dumps(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


async def run_agent_job(
    agent: str,
    binary: Path,
    scenario: str,
    root: Path,
    *,
    protocol: str,
    mode: str,
    options: list[str],
    limit_s: float = 600.0,
    agents: list[list[str]] | None = None,
    must_validate: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run one job (in the loopback-only namespace when root); its outcome and the lines
    of its beacon run. Every step must exit 0 and validate (the last step only runs the
    pipeline when ``must_validate`` is False)."""
    from e2e.beacon_cli import job_dirs
    from e2e.runtime_checks import get, load_runtime

    home, work, base = job_dirs(root)
    spec = JobSpec(
        agent=agent,
        binary=str(binary),
        scenario=scenario,
        protocol=protocol,
        mode=mode,
        home=str(home),
        work=str(work),
        base=str(base),
        options=options,
        agents=agents or [],
    )
    spec_path = root / "spec.json"
    spec_path.write_text(json.dumps(asdict(spec)), encoding="utf-8")
    job = await run_process(
        in_namespace_command(spec_path), {"PATH": "/usr/bin:/bin"}, root, limit_s
    )
    assert job.returncode == 0, job.describe()
    outcome: dict[str, Any] = json.loads((root / "outcome.json").read_text(encoding="utf-8"))
    for step in outcome["steps"][: None if must_validate else -1]:
        assert step["returncode"] == 0, f"{step['stdout'][-3000:]}\n{step['stderr'][-3000:]}"
    result = json.loads(outcome["steps"][-1]["stdout"].strip().splitlines()[-1])
    if must_validate:
        assert result["validation"]["status"] == "ok", result["validation"]
    lines = [
        line
        for line in load_runtime(base / "runtime.jsonl")
        if get(line, "beacon.session_id") == result["session_id"]
    ]
    outcome["result"] = result
    return outcome, lines
