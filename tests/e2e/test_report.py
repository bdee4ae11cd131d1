"""The run report of the real Claude Code: ``ci exec`` and a two-step session on a simulated
GitHub Actions runner write a job summary whose figures equal runtime.jsonl's."""

from __future__ import annotations

import json
from pathlib import Path

from e2e.beacon_cli import BEACON, beacon, beacon_exec, github_job_env, job_dirs, read_github_env
from e2e.claude_runner import hermetic_env, run_process
from e2e.messages_stub import MessagesStub
from e2e.runtime_checks import load_runtime, of_run
from e2e.scenarios import build, expect, full
from e2e.summary_checks import (
    check_summary,
    figures_from_runtime,
    money,
    read_text,
    summary_tokens,
)


async def test_exec_writes_a_job_summary_with_the_runs_figures(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    home, work, base = job_dirs(tmp_path)
    github = github_job_env(tmp_path)
    scenario = full(work)
    stub.use(scenario.script)
    run = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol="http/protobuf",
        base_dir=base,
        env={**hermetic_env(home, stub.base_url), **github},
        cwd=work,
    )
    assert run.process.returncode == 0, run.process.describe()
    result = run.result()
    lines = of_run(run.runtime(), result["session_id"])
    expected = figures_from_runtime(lines)
    # The independent figures are those the script implies.
    script = expect(scenario)
    assert expected.commands == list(script.bash_commands)
    assert expected.files_modified == set(script.edited_paths)
    assert expected.tokens["input"] == script.input_tokens
    assert expected.tokens["output"] == script.output_tokens

    summary = read_text(github["GITHUB_STEP_SUMMARY"])
    assert summary.startswith("### ✅ beacon run report: ok")
    check_summary(summary, expected, sessions=1)
    assert scenario.planted_secret is not None
    assert scenario.planted_secret not in summary
    for path in result["report"].values():
        assert scenario.planted_secret not in read_text(path)

    outputs = read_github_env(Path(github["GITHUB_OUTPUT"]))
    assert outputs["status"] == "ok" and outputs["exit-code"] == "0"
    assert abs(float(outputs["cost-usd"]) - expected.cost_usd) <= 1e-9
    assert outputs["session-id"] == result["session_id"]
    assert int(outputs["event-count"]) == result["events_written"]
    report = json.loads(read_text(result["report"]["json"]))
    assert report["totals"]["metrics"]["agrees"] is True
    assert report["totals"]["redactions"].get("github_token", 0) >= 1  # the planted token
    text = [
        line for line in run.process.stderr.splitlines() if line.startswith(("beacon report", "  "))
    ]
    assert 3 <= len(text) <= 4, run.process.stderr


async def test_a_two_step_session_summarises_both_claude_sessions(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    home, work, _ = job_dirs(tmp_path)
    github = github_job_env(tmp_path)
    job_env = {**hermetic_env(home, stub.base_url), **github}
    started = await beacon(["ci", "session", "start"], job_env, work)
    assert started.returncode == 0, started.describe()
    exported = read_github_env(Path(github["GITHUB_ENV"]))
    step_env = {**job_env, **exported}
    beacon_cmd = " ".join(BEACON)
    scenarios = [build("bash", work), build("files", work)]
    for scenario in scenarios:
        stub.use(scenario.script)
        step = await run_process(
            [
                "bash",
                "-c",
                f'eval "$({beacon_cmd} ci session env)" && exec "$0" "$@"',
                str(claude_bin),
                *scenario.claude_args(),
            ],
            job_env,
            work,
        )
        assert step.returncode == 0, step.describe()
    stopped = await beacon(["ci", "session", "stop"], step_env, work)
    assert stopped.returncode == 0, stopped.describe()

    lines = of_run(
        load_runtime(Path(exported["BEACON_CI_LOG_PATH"])), exported["BEACON_CI_SESSION_ID"]
    )
    expected = figures_from_runtime(lines)
    assert expected.commands == [c for s in scenarios for c in expect(s).bash_commands]
    summary = read_text(github["GITHUB_STEP_SUMMARY"])
    found = check_summary(summary, expected, sessions=2)

    # Per Claude session: each row's figures are that session's lines' figures.
    rows = {row["session"]: row for row in found["session"]}
    claude_sessions = {get_session(line) for line in lines} - {None}
    assert set(rows) == claude_sessions
    for session_id, row in rows.items():
        mine = figures_from_runtime(line for line in lines if get_session(line) == session_id)
        assert abs(money(row["cost"]) - mine.cost_usd) <= 0.5e-6
        assert summary_tokens(row["tokens in / out / cache read / cache write"]) == mine.tokens
        assert int(row["commands"]) == len(mine.commands)
        assert int(row["files modified"]) == len(mine.files_modified)
    outputs = read_github_env(Path(github["GITHUB_OUTPUT"]))
    assert outputs["session-id"] == exported["BEACON_CI_SESSION_ID"]
    assert abs(float(outputs["cost-usd"]) - expected.cost_usd) <= 1e-9


def get_session(line: dict[str, object]) -> str | None:
    session = line.get("session")
    value = session.get("id") if isinstance(session, dict) else None
    return value if isinstance(value, str) else None


async def test_errors_and_retries_of_a_run_that_gave_up(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path
) -> None:
    """Three 529s: Claude retries twice, then gives up (docs/claude-code.md)."""
    home, work, base = job_dirs(tmp_path)
    scenario = build("overloaded_exhausted", work)
    stub.use(scenario.script)
    run = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol="http/json",
        base_dir=base,
        env=hermetic_env(home, stub.base_url),
        cwd=work,
    )
    assert run.process.returncode == 1, run.process.describe()
    report = json.loads(read_text(run.result()["report"]["json"]))
    api = report["totals"]["api"]
    assert (api["requests"], api["errors"], api["retries_exhausted"]) == (0, 1, 1)
    assert api["retries"] == 2
    assert report["totals"]["cost_usd"] is None  # no request was answered: nothing reported
    assert report["run"]["child_exit_code"] == 1 and report["run"]["status"] == "fail"
