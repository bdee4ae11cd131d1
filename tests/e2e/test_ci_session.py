"""Session mode as a real multi-step GitHub-style job, and the negative paths of ``ci exec``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from e2e.beacon_cli import (
    BEACON,
    SHA,
    beacon,
    beacon_exec,
    github_job_env,
    job_dirs,
    read_github_env,
)
from e2e.claude_runner import hermetic_env, run_process
from e2e.messages_stub import MessagesStub
from e2e.runtime_checks import (
    check_claude_run,
    claude_events,
    get,
    load_runtime,
    of_run,
    schema_errors,
    sequence_gaps,
    source,
)
from e2e.scenarios import build, expect, scripted


async def test_session_spans_a_multi_step_job(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    home, work, _ = job_dirs(tmp_path)
    github = github_job_env(tmp_path)
    job_env = {**hermetic_env(home, stub.base_url), **github}
    session_env_file = Path(github["RUNNER_TEMP"]) / "beacon" / "session.env"

    started = await beacon(["ci", "session", "start", "--protocol", "http/json"], job_env, work)
    assert started.returncode == 0, started.describe()
    exported = read_github_env(Path(github["GITHUB_ENV"]))
    assert exported["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/json"
    assert exported["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://127.0.0.1:")

    # Step 1: a fresh shell that sources the env file.
    first = build("bash", work)
    stub.use(first.script)
    step1 = await run_process(
        [
            "bash",
            "-c",
            f'source "{session_env_file}" && exec "$0" "$@"',
            str(claude_bin),
            *first.claude_args(),
        ],
        job_env,
        work,
    )
    assert step1.returncode == 0, step1.describe()

    # Step 2: a shell that asks beacon for the environment.
    second = build("files", work)
    stub.use(second.script)
    beacon_cmd = " ".join(BEACON)
    step2 = await run_process(
        [
            "bash",
            "-c",
            f'eval "$({beacon_cmd} ci session env)" && exec "$0" "$@"',
            str(claude_bin),
            *second.claude_args(),
        ],
        job_env,
        work,
    )
    assert step2.returncode == 0, step2.describe()

    # Step 3: emits nothing.
    step3 = await run_process(["bash", "-c", "true"], {**job_env, **exported}, work)
    assert step3.returncode == 0

    stopped = await beacon(["ci", "session", "stop", "--json"], {**job_env, **exported}, work)
    assert stopped.returncode == 0, stopped.describe()

    runtime = load_runtime(Path(exported["BEACON_CI_LOG_PATH"]))
    assert schema_errors(runtime) == []
    lines = of_run(runtime, exported["BEACON_CI_SESSION_ID"])
    events = claude_events(lines)
    assert sequence_gaps(events) == {}
    by_session: dict[str, list[str]] = {}
    for line in events:
        by_session.setdefault(get(line, "session.id"), []).append(source(line)["event_name"])
    assert len(by_session) == 2, by_session.keys()
    prompts = {
        get(line, "session.id"): get(line, "prompt.text")
        for line in events
        if get(line, "event.action") == "prompt.submitted"
    }
    for scenario in (first, second):
        (session_id,) = (sid for sid, text in prompts.items() if text == scenario.script.prompt)
        assert scripted(Counter(by_session[session_id])) == Counter(
            {f"claude_code.{name}": count for name, count in expect(scenario).events.items()}
        )

    assert all(get(line, "run.provider") == "github_actions" for line in lines)
    assert {get(line, "run.run_id") for line in lines} == {"4242"}
    assert {get(line, "run.run_attempt") for line in lines} == {"2"}
    assert {get(line, "run.repository") for line in lines} == {"acme/widgets"}
    assert {get(line, "run.commit") for line in lines} == {SHA}
    assert {get(line, "run.ephemeral") for line in lines} == {True}


async def test_child_without_telemetry_fails_validation(tmp_path: Path) -> None:
    home, work, base = job_dirs(tmp_path)
    run = await beacon_exec(
        ["true"],
        protocol="http/protobuf",
        base_dir=base,
        env=hermetic_env(home, "http://127.0.0.1:9"),
        cwd=work,
    )
    assert run.process.returncode == 3, run.process.describe()
    assert "validation failed" in run.process.stderr
    assert "0 events from claude_code" in run.process.stderr
    assert run.result()["validation"]["status"] == "fail"


async def test_telemetry_not_required_warns_and_keeps_the_child_exit_code(tmp_path: Path) -> None:
    home, work, base = job_dirs(tmp_path)
    run = await beacon_exec(
        ["sh", "-c", "exit 7"],
        protocol="grpc",
        base_dir=base,
        env=hermetic_env(home, "http://127.0.0.1:9"),
        cwd=work,
        options=["--require-telemetry=false"],
    )
    assert run.process.returncode == 7, run.process.describe()
    assert "warning" in run.process.stderr.lower()
    assert "0 events from claude_code" in run.process.stderr
    result = run.result()
    assert (result["child_exit_code"], result["exit_code"]) == (7, 7)


async def test_job_level_otel_endpoint_does_not_steal_claude(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    """A job that already points OTLP logs elsewhere still reports to beacon."""
    home, work, base = job_dirs(tmp_path)
    scenario = build("bash", work)
    stub.use(scenario.script)
    job_env = {
        **hermetic_env(home, stub.base_url),
        # Nothing listens on the discard port: anything sent there is lost.
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://127.0.0.1:9/v1/logs",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces",
    }
    run = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol="grpc",
        base_dir=base,
        env=job_env,
        cwd=work,
    )
    assert run.process.returncode == 0, run.process.describe()
    lines = of_run(run.runtime(), run.result()["session_id"])
    check_claude_run(lines, scenario, expect(scenario), exit_code=0)
