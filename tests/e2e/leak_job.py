"""One job of the leak campaign, as a process of its own (``nox -s leaks``).

The test runs it inside a loopback-only network namespace when it runs as root
(``agent_job.in_namespace_command``), so the real Claude Code, its Messages stub, the
moto S3 server the run uploads to and the second beacon the run forwards to share a
loopback nothing else can reach:

    python tests/e2e/leak_job.py SPEC.json

``SPEC.json`` is a :class:`LeakSpec`. The job runs the agent under ``ci exec`` or in a
session (``session start`` with the start-only variables, ``session env``, the agent as a
step of its own with the exported environment, ``session status``, ``session stop``),
both with ``--upload s3`` and ``--forward otlp``. Into ``<root>/collected/`` it puts what
beacon wrote or sent outside the base dir, or only while the run was live:

* ``state/``: ``exec.json`` while the child runs (through
  ``clients/snapshot_then_exec.py``); ``session.json``, ``session.env`` and the job's
  ``GITHUB_ENV`` after start and after the agent step;
* ``github/``: ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY`` and ``GITHUB_ENV`` at the end;
* ``uploads/``: every object in the bucket;
* ``forwarded/``: the receiving beacon's spool, i.e. every payload as it arrived;
* ``steps/``: each beacon command's stdout and stderr.

It writes ``outcome.json`` beside the spec: each step's name, exit code and seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from e2e.beacon_cli import BEACON, github_job_env, job_dirs  # noqa: E402
from e2e.claude_runner import ProcessResult, hermetic_env, run_process  # noqa: E402
from e2e.messages_stub import MessagesStub, Script, Text, ToolUse  # noqa: E402

SNAPSHOT = HERE / "clients" / "snapshot_then_exec.py"
STEP_LIMIT_S = 180.0
COMMAND_LIMIT_S = 90.0


@dataclass
class LeakSpec:
    binary: str
    mode: str  # exec | session
    protocol: str
    root: str
    prompt: str
    tools: list[list[Any]]
    """``[tool name, input]`` per tool use, in order; a final text turn follows."""
    job_env: dict[str, str] = field(default_factory=dict)
    """Variables every step has (``OTEL_RESOURCE_ATTRIBUTES``)."""
    start_env: dict[str, str] = field(default_factory=dict)
    """Variables only ``session start`` has (in exec mode: the exec step)."""
    extra_args: list[str] = field(default_factory=list)
    """More arguments for the agent (``--model``)."""
    joining_env: dict[str, str] | None = None
    """Session mode: None runs the agent step as it is; a mapping runs it through a
    ``ci exec`` that joins the session, with these variables on that step only."""

    def script(self) -> Script:
        turns: list[Text | ToolUse] = [ToolUse(name, dict(tool)) for name, tool in self.tools]
        allowed = tuple(sorted({name for name, _ in self.tools}))
        return Script("leak", self.prompt, [*turns, Text("Done.")], allowed_tools=allowed)

    def claude_args(self) -> list[str]:
        script = self.script()
        tools = ",".join(script.allowed_tools)
        return ["-p", script.prompt, "--allowedTools", tools, *self.extra_args]


@dataclass
class Job:
    spec: LeakSpec
    root: Path
    collected: Path
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> Path:
        return self.root / "beacon"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def keep(self, name: str, result: ProcessResult) -> ProcessResult:
        """Record a beacon command's outcome; its output is an artifact to grep."""
        for stream in ("stdout", "stderr"):
            path = self.collected / "steps" / f"{len(self.steps)}-{name}.{stream}"
            path.write_text(getattr(result, stream), encoding="utf-8")
        self.steps.append(
            {"name": name, "returncode": result.returncode, "seconds": result.seconds}
        )
        return result

    def snapshot(self, phase: str, *paths: Path) -> None:
        for path in paths:
            if path.exists():
                shutil.copyfile(path, self.collected / "state" / f"{phase}-{path.name}")


async def start_receiver(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """A second beacon, as the forward's destination: a session daemon on every receiver."""
    args = ["ci", "session", "start", "--base-dir", str(root), "--receivers", "all"]
    started = await run_process([*BEACON, *args, "--harness", "otel"], env, root.parent)
    assert started.returncode == 0, started.describe()
    state: dict[str, Any] = json.loads((root / "session.json").read_text(encoding="utf-8"))
    return state


def forward_options(receiver: dict[str, Any], protocol: str) -> list[str]:
    endpoint = receiver["endpoints"]["grpc" if protocol == "grpc" else "http"]
    return [
        "--upload",
        "s3",
        "--forward",
        "otlp",
        "--forward-endpoint",
        endpoint,
        "--forward-protocol",
        protocol,
        "--forward-header",
        f"Authorization=Bearer {receiver['token']}",
    ]


async def exec_job(job: Job, env: dict[str, str], exports: list[str]) -> None:
    spec, state = job.spec, job.collected / "state"
    snapshot = [sys.executable, str(SNAPSHOT), str(job.base / "exec.json")]
    snapshot += [str(state / "during-exec.json"), "--", spec.binary, *spec.claude_args()]
    args = ["ci", "exec", "--protocol", spec.protocol, "--base-dir", str(job.base), "--json"]
    argv = [*BEACON, *args, *exports, "--", *snapshot]
    step_env = {**env, **spec.start_env}
    job.keep("exec", await run_process(argv, step_env, job.work, limit_s=STEP_LIMIT_S))


async def session_job(
    job: Job, env: dict[str, str], store_env: dict[str, str], exports: list[str]
) -> None:
    """The session as a GitHub job runs it: the start-only variables on start alone, cloud
    credentials on stop alone (docs/exports.md), the agent step with what the session
    exports."""
    spec, base = job.spec, job.base
    github_env = Path(env["GITHUB_ENV"])
    state_files = (base / "session.json", base / "session.env", github_env)
    start = [*BEACON, "ci", "session", "start", "--protocol", spec.protocol]
    started = job.keep("start", await run_process(start, {**env, **spec.start_env}, job.work))
    if started.returncode != 0:
        return
    job.snapshot("after-start", *state_files)
    show_env = [*BEACON, "ci", "session", "env", "--format", "json"]
    listed = job.keep("env", await run_process(show_env, env, job.work))
    if listed.returncode != 0:
        return
    exported: dict[str, str] = json.loads(listed.stdout)
    step_env = {**env, **exported}
    agent = [spec.binary, *spec.claude_args()]
    if spec.joining_env is None:
        ran = await run_process(agent, step_env, job.work, limit_s=STEP_LIMIT_S)
        job.steps.append({"name": "agent", "returncode": ran.returncode, "seconds": ran.seconds})
    else:
        joining = [*BEACON, "ci", "exec", "--", *agent]
        ran = await run_process(
            joining, {**step_env, **spec.joining_env}, job.work, limit_s=STEP_LIMIT_S
        )
        job.keep("joining-exec", ran)
    job.snapshot("after-agent", *state_files)
    job.keep("status", await run_process([*BEACON, "ci", "session", "status"], step_env, job.work))
    stop = [*BEACON, "ci", "session", "stop", "--json", *exports]
    job.keep(
        "stop", await run_process(stop, {**step_env, **store_env}, job.work, limit_s=STEP_LIMIT_S)
    )


def keep_received(spool: Path, into: Path) -> None:
    """The receiving beacon's spool: every forwarded payload as it arrived."""
    if spool.exists():
        shutil.copyfile(spool, into / "received.jsonl")


def download_bucket(moto: Any, bucket: str, into: Path) -> int:
    from exports.conftest import s3_client

    client = s3_client(moto)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    for entry in listed:
        body = client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
        (into / entry["Key"].replace("/", "__")).write_bytes(body)
    return len(listed)


def start_store(stack: contextlib.ExitStack, root: Path) -> tuple[Any, dict[str, str]]:
    """moto on the job's loopback, with a bucket; the variables ``--upload s3`` needs."""
    from exports.conftest import s3_client, unique_bucket
    from exports.servers import moto_server

    moto = stack.enter_context(moto_server(root))
    bucket = unique_bucket("leaks")
    s3_client(moto).create_bucket(Bucket=bucket)
    return moto, {**moto.env(), "BEACON_CI_S3_BUCKET": bucket}


async def run_leak_job(spec: LeakSpec) -> dict[str, Any]:
    started = time.monotonic()
    root = Path(spec.root)
    home, _, _ = job_dirs(root)
    collected = root / "collected"
    for part in ("state", "github", "uploads", "forwarded", "steps"):
        (collected / part).mkdir(parents=True)
    job = Job(spec, root, collected)
    stub = MessagesStub()
    await stub.start()
    stub.use(spec.script())
    github = github_job_env(root)
    env = {**hermetic_env(home, stub.base_url), **github, "BEACON_CI_BASE_DIR": str(job.base)}
    env.update(spec.job_env)
    receiver_env = {"PATH": env["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    down = root / "receiver"
    try:
        with contextlib.ExitStack() as stack:
            # moto and the receiving beacon start together: ~2.5 s each.
            (moto, store_env), receiver = await asyncio.gather(
                asyncio.to_thread(start_store, stack, root), start_receiver(down, receiver_env)
            )
            setup_seconds = time.monotonic() - started
            try:
                exports = forward_options(receiver, spec.protocol)
                if spec.mode == "exec":
                    await exec_job(job, {**env, **store_env}, exports)
                else:
                    await session_job(job, env, store_env, exports)
            finally:
                keep_received(Path(receiver["spool_path"]), collected / "forwarded")
                stop = ["ci", "session", "stop", "--base-dir", str(down)]
                await run_process([*BEACON, *stop, "--require-telemetry=false"], receiver_env, root)
            bucket = store_env["BEACON_CI_S3_BUCKET"]
            uploaded = download_bucket(moto, bucket, collected / "uploads")
    finally:
        await stub.stop()
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV"):
        shutil.copyfile(github[name], collected / "github" / name)
    return {
        "steps": job.steps,
        "uploaded_objects": uploaded,
        # Only "lo" inside the loopback-only namespace (the tests check it when root).
        # /proc/net is this process's namespace; /sys/class/net would be the mount's.
        "interfaces": network_interfaces(),
        "stub_requests": [request.kind for request in stub.requests],
        "setup_seconds": setup_seconds,
        "seconds": time.monotonic() - started,
    }


def network_interfaces() -> list[str]:
    lines = Path("/proc/net/dev").read_text(encoding="utf-8").splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = LeakSpec(**json.loads(spec_path.read_text(encoding="utf-8")))
    outcome = asyncio.run(run_leak_job(spec))
    spec_path.with_name("outcome.json").write_text(json.dumps(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def write_spec(spec: LeakSpec) -> Path:
    path = Path(spec.root) / "spec.json"
    path.write_text(json.dumps(asdict(spec)), encoding="utf-8")
    return path
