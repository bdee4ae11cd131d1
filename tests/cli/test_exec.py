"""`beacon ci exec`, run as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import (
    BEACON,
    CHILD,
    beacon,
    clean_env,
    last_json_line,
    runtime_lines,
    signal_and_wait,
    spool_log_records,
    start_waiting_exec,
)


def exec_args(base: Path, *options: str) -> list[str]:
    return ["ci", "exec", "--base-dir", str(base), *options, "--"]


def test_stdout_stderr_pass_through_and_child_exit_code_wins(tmp_path: Path) -> None:
    result = beacon(*exec_args(tmp_path), *CHILD, "out:to-stdout", "err:to-stderr", "exit:7")
    assert result.returncode == 7
    assert "to-stdout" in result.stdout
    assert "to-stderr" in result.stderr
    assert "child exited 7" in result.stderr


def test_child_killed_by_signal_exits_128_plus_n(tmp_path: Path) -> None:
    result = beacon(*exec_args(tmp_path), *CHILD, "kill:9")
    assert result.returncode == 128 + 9
    assert "killed by signal 9" in result.stderr


def test_exports_land_in_runtime_log_and_json_result(tmp_path: Path) -> None:
    result = beacon(
        *exec_args(tmp_path, "--harness", "otel", "--json"), *CHILD, "log:hello", "out:done"
    )
    assert result.returncode == 0, result.stderr
    outcome = last_json_line(result.stdout)
    assert outcome["exit_code"] == 0
    assert outcome["child_exit_code"] == 0
    assert outcome["validation"]["status"] in ("ok", "warn")
    assert json.loads((tmp_path / "result.json").read_text()) == outcome
    lines = runtime_lines(tmp_path / "runtime.jsonl")
    assert any("hello" in json.dumps(line) for line in lines)
    assert all(line["beacon"]["session_id"] == outcome["session_id"] for line in lines)
    # A successful run leaves no raw (unredacted) spool behind.
    assert not (tmp_path / "spool" / "otlp.jsonl").exists()


def test_no_telemetry_fails_validation_with_exit_3(tmp_path: Path) -> None:
    result = beacon(*exec_args(tmp_path, "--harness", "otel"), *CHILD, "out:nothing")
    assert result.returncode == 3, result.stderr
    assert "validation failed" in result.stderr
    # Kept for troubleshooting after a failed validation.
    assert (tmp_path / "spool" / "otlp.jsonl").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--require-telemetry=false"],
        ["--require-telemetry", "0"],
        ["--no-require-telemetry"],
    ],
)
def test_telemetry_not_required_warns_and_keeps_child_code(
    tmp_path: Path, flags: list[str]
) -> None:
    env = clean_env(GITHUB_ACTIONS="true")
    result = beacon(*exec_args(tmp_path, "--harness", "otel", *flags), *CHILD, env=env)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr
    assert "::warning::" in result.stdout


def test_bare_require_telemetry_means_true(tmp_path: Path) -> None:
    result = beacon(
        "ci",
        "exec",
        "--base-dir",
        str(tmp_path),
        "--harness",
        "otel",
        "--require-telemetry",
        "--",
        *CHILD,
    )
    assert result.returncode == 3, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ci", "exec", "--no-such-option", "--", "true"],
        ["ci", "exec"],
        ["ci", "exec", "--protocol", "carrier-pigeon", "--", "true"],
        ["ci", "exec", "--require-telemetry=maybe", "--", "true"],
        ["ci", "exec", "--harness", "nope", "--", "true"],
        ["ci", "exec", "--timeout", "soon", "--", "true"],
        ["ci", "exec", "--redact-pattern", "(", "--", "true"],
        ["ci", "exec", "--min-events", "-1", "--", "true"],
        ["ci", "exec", "--fsync", "sometimes", "--", "true"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = beacon(*args[:2], "--base-dir", str(tmp_path), *args[2:])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "child exited" not in result.stderr  # refused before anything ran


def test_missing_command_is_a_usage_error(tmp_path: Path) -> None:
    result = beacon(*exec_args(tmp_path), "/nonexistent/agent-binary")
    assert result.returncode == 2
    assert "command not found: /nonexistent/agent-binary" in result.stderr


def test_unusable_base_dir_exits_5(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = beacon(*exec_args(blocker / "beacon"), *CHILD)
    assert result.returncode == 5
    assert "cannot use base dir" in result.stderr
    assert "--base-dir" in result.stderr


def test_timeout_kills_the_child_and_exits_124(tmp_path: Path) -> None:
    started = time.monotonic()
    result = beacon(
        *exec_args(tmp_path, "--timeout", "0.5", "--harness", "otel"), *CHILD, "log:before", "hang"
    )
    assert result.returncode == 124, result.stderr
    assert "--timeout expired" in result.stderr
    assert time.monotonic() - started < 20
    assert any("before" in json.dumps(line) for line in runtime_lines(tmp_path / "runtime.jsonl"))


def test_child_environment(tmp_path: Path) -> None:
    env_out = tmp_path / "child-env.json"
    job = clean_env(
        KEEP_ME="yes",
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="https://elsewhere.invalid/v1/logs",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-api-key=secret",
        OTEL_RESOURCE_ATTRIBUTES="team=platform",
    )
    result = beacon(
        *exec_args(tmp_path / "b", "--json", "--no-require-telemetry"),
        *CHILD,
        f"env:{env_out}",
        env=job,
    )
    assert result.returncode == 0, result.stderr
    session_id = last_json_line(result.stdout)["session_id"]
    child = json.loads(env_out.read_text())
    assert child["KEEP_ME"] == "yes"
    endpoint = child["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint.startswith("http://127.0.0.1:")
    assert child["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert child["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] == f"{endpoint}/v1/logs"
    assert child["OTEL_EXPORTER_OTLP_TRACES_HEADERS"].startswith("authorization=Bearer%20")
    assert child["OTEL_EXPORTER_OTLP_HEADERS"] == child["OTEL_EXPORTER_OTLP_TRACES_HEADERS"]
    assert child["OTEL_RESOURCE_ATTRIBUTES"] == (
        f"team=platform,beacon.session.id={session_id},beacon.origin=ci"
    )
    assert child["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert child["OTEL_LOG_USER_PROMPTS"] == "1"


def test_opt_out_switches_reach_the_child(tmp_path: Path) -> None:
    env_out = tmp_path / "child-env.json"
    result = beacon(
        *exec_args(
            tmp_path / "b",
            "--no-traces",
            "--no-prompts",
            "--no-tool-details",
            "--no-require-telemetry",
        ),
        *CHILD,
        f"env:{env_out}",
    )
    assert result.returncode == 0, result.stderr
    child = json.loads(env_out.read_text())
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_LOG_USER_PROMPTS", "OTEL_LOG_TOOL_DETAILS"):
        assert name not in child


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_otel_sdk_child_exports_are_spooled(tmp_path: Path, protocol: str) -> None:
    result = beacon(
        *exec_args(tmp_path, "--protocol", protocol, "--harness", "otel", "--keep-spool"),
        *CHILD,
        "log:first",
        "log:second",
    )
    assert result.returncode == 0, result.stderr
    records = spool_log_records(tmp_path / "spool" / "otlp.jsonl")
    bodies = [r["body"] for r in records]
    assert "first" in bodies and "second" in bodies
    lifecycle = [r["attributes"]["event.name"] for r in records if r["scope"] == "beacon"]
    assert lifecycle[:2] == ["collector.started", "child.started"]
    assert "child.exited" in lifecycle and "drain.completed" in lifecycle
    exported = next(r for r in records if r["body"] == "first")
    assert exported["resource"]["beacon.origin"] == "ci"


def test_export_after_last_output_line_is_captured(tmp_path: Path) -> None:
    result = beacon(
        *exec_args(tmp_path, "--harness", "otel", "--keep-spool"),
        *CHILD,
        "out:last line",
        "log:after-the-last-line",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("last line")
    bodies = [r["body"] for r in spool_log_records(tmp_path / "spool" / "otlp.jsonl")]
    assert "after-the-last-line" in bodies


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_are_forwarded_and_the_log_is_still_written(
    tmp_path: Path, signum: signal.Signals
) -> None:
    process, got = start_waiting_exec(
        tmp_path / "b", tmp_path, ("--harness", "otel"), "waitsig:{got}", "log:flushed-on-cancel"
    )
    # How long this takes (GitHub's SIGKILL follows its SIGINT by ~10 s) is a
    # figure of `python -m benchmarks --only cancel`; here only a hang fails.
    stderr, _ = signal_and_wait(process, signum)
    assert int(got.read_text()) == int(signum)
    assert process.returncode == 128 + int(signum), stderr
    lines = runtime_lines(tmp_path / "b" / "runtime.jsonl")
    assert any("flushed-on-cancel" in json.dumps(line) for line in lines)


def test_child_ignoring_the_signal_is_killed_within_the_window(tmp_path: Path) -> None:
    process, _ = start_waiting_exec(
        tmp_path / "b",
        tmp_path,
        ("--no-require-telemetry",),
        "waitsig:{got}",
        "waitsig:{got}",
        stdout=subprocess.DEVNULL,
    )
    # The escalation's timing is a figure of `python -m benchmarks --only cancel`.
    stderr, _ = signal_and_wait(process, signal.SIGINT)
    assert process.returncode == 128 + signal.SIGKILL, stderr
    assert (tmp_path / "b" / "result.json").exists()


def test_runs_share_one_runtime_log(tmp_path: Path) -> None:
    first = beacon(*exec_args(tmp_path, "--harness", "otel", "--json"), *CHILD, "log:one")
    second = beacon(*exec_args(tmp_path, "--harness", "otel", "--json"), *CHILD, "log:two")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    ids = {line["beacon"]["session_id"] for line in runtime_lines(tmp_path / "runtime.jsonl")}
    assert ids == {
        last_json_line(first.stdout)["session_id"],
        last_json_line(second.stdout)["session_id"],
    }


def test_artifact_permissions(tmp_path: Path) -> None:
    base = tmp_path / "b"
    result = beacon(*exec_args(base, "--harness", "otel", "--keep-spool"), *CHILD, "log:x")
    assert result.returncode == 0, result.stderr
    assert base.stat().st_mode & 0o777 == 0o700
    for path in (base / "spool" / "otlp.jsonl", base / "result.json"):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_quiet_prints_no_status_lines(tmp_path: Path) -> None:
    result = beacon(*exec_args(tmp_path, "--quiet"), *CHILD, "exit:4")
    assert result.returncode == 4
    assert "collector listening" not in result.stderr
    assert "child exited" not in result.stderr


def test_log_path_option(tmp_path: Path) -> None:
    log = tmp_path / "elsewhere" / "my.jsonl"
    log.parent.mkdir()
    result = beacon(
        *exec_args(tmp_path / "b", "--harness", "otel", "--log-path", str(log)), *CHILD, "log:x"
    )
    assert result.returncode == 0, result.stderr
    assert runtime_lines(log)
    assert not (tmp_path / "b" / "runtime.jsonl").exists()


def test_base_dir_defaults_to_runner_temp(tmp_path: Path) -> None:
    env = clean_env(RUNNER_TEMP=str(tmp_path))
    result = subprocess.run(
        [BEACON, "ci", "exec", "--no-require-telemetry", "--", *CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.fspath(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "beacon" / "result.json").exists()


def test_a_second_signal_after_the_child_exited_does_not_lose_the_log(tmp_path: Path) -> None:
    process, _ = start_waiting_exec(
        tmp_path / "b",
        tmp_path,
        ("--harness", "otel"),
        "waitsig:{got}",
        "log:last-words",
        stdout=subprocess.DEVNULL,
    )
    try:
        process.send_signal(signal.SIGINT)
        assert process.stderr is not None
        for line in process.stderr:
            if "child exited" in line:
                break
        # The runner's follow-up SIGTERM lands while beacon drains and writes.
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + signal.SIGINT
    lines = runtime_lines(tmp_path / "b" / "runtime.jsonl")
    assert any("last-words" in json.dumps(line) for line in lines)


def test_the_collector_token_is_masked_and_never_written(tmp_path: Path) -> None:
    env = clean_env(GITHUB_ACTIONS="true")
    result = beacon(
        *exec_args(tmp_path, "--harness", "otel", "--json"),
        *CHILD,
        "logenv:OTEL_EXPORTER_OTLP_HEADERS",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    mask_lines = [line for line in result.stdout.splitlines() if line.startswith("::add-mask::")]
    assert len(mask_lines) == 1
    token = mask_lines[0].removeprefix("::add-mask::")
    assert len(token) >= 32
    text = (tmp_path / "runtime.jsonl").read_text()
    assert "OTEL_EXPORTER_OTLP_HEADERS is" in text
    assert token not in text
    assert token not in (tmp_path / "result.json").read_text()


def test_nested_exec_joins_the_outer_run(tmp_path: Path) -> None:
    inner = [BEACON, "ci", "exec", "--base-dir", str(tmp_path), "--", *CHILD, "log:from-inner"]
    nested = beacon(
        *exec_args(tmp_path, "--harness", "otel", "--json"),
        "bash",
        "-c",
        '"$@"',
        "outer",
        *inner,
    )
    assert nested.returncode == 0, nested.stderr
    assert "joining session" in nested.stderr
    outer_id = last_json_line(nested.stdout)["session_id"]
    lines = [
        line
        for line in runtime_lines(tmp_path / "runtime.jsonl")
        if line["beacon"]["session_id"] == outer_id
    ]
    assert any("from-inner" in json.dumps(line) for line in lines)
    assert not (tmp_path / "exec.json").exists()


def test_concurrent_exec_in_one_base_dir_is_refused(tmp_path: Path) -> None:
    outer, _ = start_waiting_exec(
        tmp_path / "b",
        tmp_path,
        ("--no-require-telemetry",),
        "waitsig:{got}",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        second = beacon(*exec_args(tmp_path / "b"), *CHILD)
        assert second.returncode == 5
        assert "another `beacon ci exec`" in second.stderr
        assert "--base-dir" in second.stderr
        outer.send_signal(signal.SIGTERM)
        outer.wait(timeout=15)
    finally:
        if outer.poll() is None:
            outer.kill()
            outer.wait()


@pytest.mark.parametrize(("child_code", "expected"), [(0, 5), (9, 9)])
def test_a_failure_while_processing_keeps_the_child_code(
    tmp_path: Path, child_code: int, expected: int
) -> None:
    # The log path becomes unusable while the child runs (an unusable one is
    # refused before the child starts: tests/cli/test_run_faults.py).
    log_dir = tmp_path / "a-directory"
    result = beacon(
        *exec_args(tmp_path / "b", "--json", "--log-path", str(log_dir)),
        "bash",
        "-c",
        f"mkdir {log_dir}; exit {child_code}",
    )
    assert result.returncode == expected, result.stderr
    assert "could not process the captured telemetry" in result.stderr
    outcome = last_json_line(result.stdout)
    assert outcome["child_exit_code"] == child_code
    assert outcome["exit_code"] == expected
    assert outcome["error"]
    # Nothing was validated: the raw spool stays for troubleshooting.
    assert (tmp_path / "b" / "spool" / "otlp.jsonl").exists()
