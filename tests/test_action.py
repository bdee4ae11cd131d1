"""The GitHub Action (action.yml) runs for real: its composite steps under a simulated runner.

beacon is built as a wheel and installed by the action's own install step into
a fresh venv (non-editable, as users get it); every test then runs the whole
composite action through tests/action_runner.py and checks the outputs, the
artifact step's files and the exit code the action ends with.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from beacon.cli.argv import SPECS
from tests.action_runner import ACTION, REPO, Runner, default_inputs

HELLO = f'"$AGENT_PYTHON" {REPO / "examples" / "otel_hello.py"}'
UPLOAD = "actions/upload-artifact@"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(out)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    (built,) = out.glob("beacon_ci-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """The action's install step, for real: a fresh venv with the wheel and its dependencies."""
    runner = Runner(tmp_path_factory.mktemp("install"))
    env = runner.step_env() | {"BEACON_SPEC": str(wheel), "GITHUB_OUTPUT": "/dev/null"}
    result = runner.run_script(f"bash {REPO / 'action' / 'install.sh'}", env)
    assert result.returncode == 0, result.stderr
    # `beacon --version` prints the version first, then the engines the pipeline found.
    assert f"beacon {wheel.name.split('-')[1]}" in result.stdout.splitlines()
    assert runner.files["GITHUB_PATH"].read_text().strip() == str(runner.temp / "beacon-bin")
    return runner.temp / "beacon-venv"


@pytest.fixture
def runner(tmp_path: Path, installed: Path, wheel: Path) -> Runner:
    job = Runner(tmp_path)
    job.env["AGENT_PYTHON"] = sys.executable
    # The same job has installed this wheel already: the install step reuses it.
    (job.temp / "beacon-venv").symlink_to(installed)
    job.defaults["version"] = str(wheel)
    return job


def test_the_wheel_ships_its_package_data_and_runs_ci_exec(installed: Path, tmp_path: Path) -> None:
    site = next(installed.glob("lib/python3*/site-packages/beacon"))
    assert (site / "schema" / "runtime-1.0.schema.json").is_file()
    # Every data file of the package (schema, rule pack, report assets…) is installed.
    source = REPO / "beacon"
    data = [
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data
    missing = [str(p) for p in data if not (site / p).is_file()]
    assert not missing, f"not in the wheel (pyproject package-data): {missing}"
    # Not an editable install: the code is in the venv, not a link to this checkout.
    assert not list(installed.glob("lib/python3*/site-packages/__editable__*"))
    result = subprocess.run(
        [
            str(installed / "bin" / "beacon"),
            "ci",
            "exec",
            "--harness",
            "otel",
            "--base-dir",
            str(tmp_path / "b"),
            "--json",
            "--",
            sys.executable,
            str(REPO / "examples" / "otel_hello.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # Validation checks every line against the shipped JSON Schema.
    assert json.loads(result.stdout.splitlines()[-1])["validation"]["status"] == "ok"


def assert_every_output(outputs: dict[str, str]) -> None:
    assert set(outputs) == set(ACTION["outputs"])
    for name in ("log-path", "result-path", "event-count", "status", "session-id", "exit-code"):
        assert outputs[name], name


def test_exec_produces_every_output_and_uploads_the_redacted_files(runner: Runner) -> None:
    run = runner.uses(mode="exec", command=HELLO, harnesses="otel")
    assert run.outcome == "success", run.log
    outputs = run.outputs
    assert_every_output(outputs)
    result = orjson.loads(Path(outputs["result-path"]).read_bytes())
    assert outputs["session-id"] == result["session_id"]
    assert outputs["exit-code"] == "0" and outputs["status"] == "ok"
    assert int(outputs["event-count"]) == result["events_written"] > 0
    lines = Path(outputs["log-path"]).read_bytes().splitlines()
    assert any(orjson.loads(line)["harness"]["name"] == "otel" for line in lines)
    # An OTel program reports no cost: unknown, never 0.
    assert outputs["cost-usd"] == ""
    (_, with_), *_ = (u for u in run.uses if u[0].startswith(UPLOAD))
    paths = with_["path"].splitlines()
    assert outputs["log-path"] in paths and outputs["result-path"] in paths
    assert all(Path(p).is_file() and "spool" not in p for p in paths)
    assert with_["name"] == "beacon-agent-0-attempt1"
    # A requirement was given (the wheel): its downloads are cached under its hash.
    ((_, cache),) = [u for u in run.uses if u[0].startswith("actions/cache@")]
    digest = hashlib.sha256(runner.defaults["version"].encode()).hexdigest()[:16]
    assert cache["key"] == f"Linux-X64-beacon-pip-{digest}"
    assert cache["path"] == str(runner.temp / "beacon-pip-cache")


def test_the_artifact_name_differs_per_matrix_leg_and_attempt(runner: Runner) -> None:
    names = set()
    for index, attempt in (("0", "1"), ("1", "1"), ("0", "2")):
        runner.job_index = index
        runner.env["GITHUB_RUN_ATTEMPT"] = attempt
        run = runner.uses(mode="exec", command="true", **{"require-telemetry": "false"})
        (name,) = [w["name"] for u, w in run.uses if u.startswith(UPLOAD)]
        names.add(name)
    assert len(names) == 3


def test_a_failing_command_still_uploads_then_fails_with_its_code(runner: Runner) -> None:
    run = runner.uses(mode="exec", command=f"{HELLO}; exit 9", harnesses="otel")
    assert run.outputs["exit-code"] == "9"
    assert run.outputs["status"] == "fail"
    assert any(u.startswith(UPLOAD) for u, _ in run.uses), "the artifact step must still run"
    assert run.steps["run"]["outcome"] == "success"
    assert run.outcome == "failure"
    assert "--- Exit with beacon's exit code (exit 9)" in run.log


def test_the_command_goes_through_the_environment_untouched(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "said.txt"
    tricky = """it's "quoted" $HOME `not run` ${{ inputs.mode }} \\n"""
    # The command is bash source; a single-quoted word keeps every character.
    quoted = "'" + tricky.replace("'", "'\\''") + "'"
    command = f"printf '%s' {quoted} > {target}"
    run = runner.uses(
        mode="exec",
        command=command,
        **{"require-telemetry": "false", "working-directory": str(tmp_path)},
    )
    assert run.outcome == "success", run.log
    assert target.read_text() == tricky


def test_session_start_agent_steps_finish(runner: Runner) -> None:
    started = runner.uses(mode="start", harnesses="otel")
    assert started.outcome == "success", started.log
    assert started.outputs["session-id"] and started.outputs["log-path"]
    assert "::add-mask::" in started.steps["run"]["stdout"]
    assert not any(u.startswith(UPLOAD) for u, _ in started.uses)

    # A later step of the job: inherits the session's exports through $GITHUB_ENV.
    agent = runner.run_script(HELLO, runner.step_env())
    assert agent.returncode == 0, agent.stderr

    finished = runner.uses(mode="finish", harnesses="otel")
    assert finished.outcome == "success", finished.log
    assert_every_output(finished.outputs)
    assert finished.outputs["session-id"] == started.outputs["session-id"]
    assert finished.outputs["status"] == "ok"
    assert any(u.startswith(UPLOAD) for u, _ in finished.uses)


def test_exec_inside_a_session_joins_it_and_finish_validates_both(runner: Runner) -> None:
    started = runner.uses(mode="start", harnesses="otel")
    assert started.outcome == "success", started.log
    joined = runner.uses(mode="exec", command=HELLO, harnesses="otel")
    assert joined.outcome == "success", joined.log
    # The verdict is the session's, at finish: nothing to upload yet, no status.
    assert joined.outputs["session-id"] == started.outputs["session-id"]
    assert joined.outputs["status"] == "" and joined.outputs["exit-code"] == "0"
    assert not any(u.startswith(UPLOAD) for u, _ in joined.uses)
    finished = runner.uses(mode="finish", harnesses="otel")
    assert finished.outcome == "success", finished.log
    assert finished.outputs["status"] == "ok"
    log = Path(finished.outputs["log-path"]).read_bytes().splitlines()
    mine = [orjson.loads(line) for line in log]
    assert {line["beacon"]["session_id"] for line in mine} == {started.outputs["session-id"]}
    assert any(line["harness"]["name"] == "otel" for line in mine)


def test_the_old_interface_still_works_with_a_deprecation_warning(runner: Runner) -> None:
    started = runner.uses(command="start", harness="otel")
    assert started.outcome == "success", started.log
    assert "::warning::beacon: `command: start` without `mode` is deprecated" in started.log
    assert runner.run_script(HELLO, runner.step_env()).returncode == 0
    stopped = runner.uses(command="stop", harness="otel")
    assert stopped.outcome == "success", stopped.log
    assert stopped.outputs["status"] == "ok"


def test_finish_fails_when_nothing_arrived_unless_telemetry_is_optional(runner: Runner) -> None:
    assert runner.uses(mode="start").outcome == "success"
    stopped = runner.uses(mode="stop")
    assert stopped.outputs["exit-code"] == "3"
    assert stopped.outputs["status"] == "fail"
    assert stopped.outcome == "failure"

    assert runner.uses(mode="start").outcome == "success"
    lenient = runner.uses(mode="finish", **{"require-telemetry": "false"})
    assert lenient.outcome == "success", lenient.log
    assert lenient.outputs["exit-code"] == "0"
    assert "::warning::" in lenient.log


def test_an_unknown_mode_is_a_clear_error(runner: Runner) -> None:
    run = runner.uses(mode="later", command="true")
    assert run.outcome == "failure"
    assert "::error::beacon: unknown mode 'later'" in run.log
    assert run.steps["install"]["outcome"] == "skipped"


def test_inputs_become_options_and_unset_ones_are_not_passed(tmp_path: Path) -> None:
    """run.sh's mapping, with a stand-in beacon that records its arguments."""
    recorder = tmp_path / "beacon"
    argv_file = tmp_path / "argv.json"
    recorder.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"json.dump(sys.argv[1:], open({str(argv_file)!r}, 'w'))\n"
    )
    recorder.chmod(0o755)
    runner = Runner(tmp_path)

    def argv_for(beacon_mode: str, **inputs: str) -> list[str]:
        env = runner.step_env() | {
            "GITHUB_OUTPUT": str(tmp_path / "out"),
            "BEACON_BIN": str(recorder),
        }
        env["BEACON_MODE"] = beacon_mode
        env.update({f"INPUT_{k.upper().replace('-', '_')}": v for k, v in inputs.items()})
        result = runner.run_script(f"bash {REPO / 'action' / 'run.sh'}", env)
        assert result.returncode == 0, result.stderr
        return list(json.loads(argv_file.read_text()))

    plain = argv_for("finish", **default_inputs())
    assert plain == ["ci", "session", "stop", "--require-telemetry=true", "--json"]
    full = argv_for(
        "exec",
        command="echo hi",
        harnesses="claude, otel",
        protocol="grpc",
        **{
            "log-prompts": "false",
            "log-tool-details": "false",
            "require-action": "command.executed\nfile.modified",
            "min-events": "2",
            "upload": "s3,gcs",
            "upload-required": "true",
            "budget": "cost_usd=5",
        },
    )
    assert full[:2] == ["ci", "exec"]
    options = full[: full.index("--")]
    assert options.count("--harness") == 2 and "otel" in options
    assert {"--no-prompts", "--no-tool-details", "--upload-required=true"} <= set(options)
    assert options.count("--require-action") == 2 and options.count("--upload") == 2
    assert full[full.index("--") + 1 :] == [
        "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", "echo hi",
    ]  # fmt: skip


def test_every_option_the_action_passes_is_one_beacon_declares_or_is_pending() -> None:
    """The inputs for options other parts of beacon are adding are declared ahead of them."""
    script = (REPO / "action" / "run.sh").read_text(encoding="utf-8")
    passed = set(__import__("re").findall(r"(--[a-z][a-z-]+)", script))
    passed -= {"--noprofile", "--norc", "--mode", "--exit-code", "--stdout", "--json"}
    known = {name for spec in SPECS.values() for _, o, _ in spec.options() for name in o.names}
    # The exports options (being added on another branch).
    pending = {"--upload", "--upload-required", "--upload-layout", "--forward"}
    pending |= {"--forward-endpoint"}
    assert passed - known <= pending
    assert {"--rules", "--fail-on", "--budget", "--harness", "--redact-env"} <= passed & known
