"""A beacon SIGKILLed while it writes runtime.jsonl: the next run leaves each record exactly once.

Each test lives a CI job's sequence (the longer ones run in ``nox -s faults``).
The kill comes from ``killing_beacon.py``: beacon's own CLI, which kills itself
after a given number of bytes written to the log, in the middle of a line, on
the real write path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from beacon.paths import ArtifactPaths
from beacon.run.ledger import read_ledger
from beacon.run.spools import spool_session_id
from tests.cli.helpers import beacon, clean_env, last_json_line
from tests.cli.test_session import base, start
from tests.cli.test_session_faults import session_env

__all__ = ["base"]  # the fixture, used by name

KILLER = Path(__file__).with_name("killing_beacon.py")
POST = [sys.executable, str(Path(__file__).with_name("otlp_post.py"))]
# A run of two records writes ~6.5 kB: the kill comes in its fourth line.
KILL_IN_OWN_LINES = 3000


def killed_beacon(
    log: Path, after_bytes: int | None, *args: str, env: dict[str, str] | None = None
) -> None:
    """``after_bytes`` None: killed after the log is written, as result.json is replaced."""
    environ = dict(env if env is not None else clean_env())
    if after_bytes is None:
        environ.update(KILL_BEFORE_REPLACING=str(log.with_name("result.json")))
    else:
        environ.update(KILL_LOG_PATH=str(log), KILL_AFTER_BYTES=str(after_bytes))
    result = subprocess.run(
        [sys.executable, str(KILLER), *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == -9, (result.returncode, result.stderr)


def torn_runs(log: Path) -> list[str]:
    """The sessions of the log's complete lines; asserts the last line is torn."""
    data = log.read_bytes()
    assert not data.endswith(b"\n"), "the kill did not come in the middle of a line"
    *complete, torn = data.split(b"\n")
    assert torn
    return list(dict.fromkeys(json.loads(line)["beacon"]["session_id"] for line in complete))


def exec_args(base: Path, *bodies: str) -> list[str]:
    return ["ci", "exec", "--base-dir", str(base), "--harness", "otel", "--json", "--", *POST,
            *bodies]  # fmt: skip


def assert_each_record_once(log: Path, bodies: dict[str, list[str]]) -> None:
    """Every line parses (no torn fragment survived); each run's records appear once."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for text in log.read_text().splitlines():
        parsed = json.loads(text)
        runs.setdefault(parsed["beacon"]["session_id"], []).append(parsed)
    assert set(runs) == set(bodies)
    for session, lines in runs.items():
        messages = Counter(str(line.get("message")) for line in lines)
        assert messages.most_common(1)[0][1] == 1, (session, messages.most_common(3))
        assert [line["event"]["action"] for line in lines].count("session.summary") == 1
        for body in bodies[session]:
            assert messages[body] == 1, (session, body)
        # Its own lifecycle, whole: started first, stopped before its summary.
        assert lines[0]["message"] == "beacon.collector.started"
        assert lines[-2]["message"] == "beacon.collector.stopped"
    for session in bodies:
        checked = beacon(
            "ci", "validate", "--log-path", str(log), "--session-id", session,
            "--harness", "otel", "--json",
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr
        assert last_json_line(checked.stdout)["status"] == "ok", checked.stdout


def assert_no_raw_spool(base: Path) -> None:
    assert [p.name for p in (base / "spool").iterdir() if p.name.startswith("otlp")] == []


def test_an_exec_killed_while_writing_its_log_is_written_once_by_the_next(tmp_path: Path) -> None:
    base = tmp_path / "beacon"
    log = base / "runtime.jsonl"
    killed_beacon(log, KILL_IN_OWN_LINES, *exec_args(base, "killed-one", "killed-two"))
    (killed,) = torn_runs(log)

    after = beacon(*exec_args(base, "next-run"))
    assert after.returncode == 0, after.stderr
    outcome = last_json_line(after.stdout)
    assert outcome["validation"]["status"] == "ok"
    assert [(e["session_id"], e["validation_status"]) for e in outcome["recovered"]] == [
        (killed, "ok")
    ]
    assert f"run {killed} was stopped while it wrote its lines" in after.stderr
    assert_each_record_once(
        log, {killed: ["killed-one", "killed-two"], outcome["session_id"]: ["next-run"]}
    )
    assert_no_raw_spool(base)


@pytest.mark.faults  # three runs: ~9 s
def test_an_exec_killed_while_recovering_a_leftover_leaves_both_once(tmp_path: Path) -> None:
    base = tmp_path / "beacon"
    log = base / "runtime.jsonl"
    killed_beacon(log, KILL_IN_OWN_LINES, *exec_args(base, "first-one", "first-two"))
    (first,) = torn_runs(log)

    # The second run takes the first's lines back out, processes its spool again,
    # and is killed in the middle of that, before its own lines.
    killed_beacon(log, 1000, *exec_args(base, "second-one"))
    assert torn_runs(log) == [first]
    second = spool_session_id(base / "spool" / "otlp.jsonl")
    assert second is not None and second != first

    third = beacon(*exec_args(base, "third-one"))
    assert third.returncode == 0, third.stderr
    outcome = last_json_line(third.stdout)
    assert outcome["validation"]["status"] == "ok"
    recovered = [(e["session_id"], e["validation_status"]) for e in outcome["recovered"]]
    assert recovered == [(first, "ok"), (second, "ok")]
    assert_each_record_once(
        log,
        {
            first: ["first-one", "first-two"],
            second: ["second-one"],
            outcome["session_id"]: ["third-one"],
        },
    )
    assert_no_raw_spool(base)


@pytest.mark.parametrize(
    "next_step", ["stop", pytest.param("exec then stop", marks=pytest.mark.faults)]
)
def test_a_session_stop_killed_while_writing_is_written_once(base: Path, next_step: str) -> None:
    info = start(base, "--harness", "otel")
    session = str(info["session_id"])
    subprocess.run(
        [*POST, "session-one", "session-two"], env=session_env(base), check=True, timeout=60
    )
    job = clean_env(BEACON_CI_BASE_DIR=str(base))
    log = base / "runtime.jsonl"
    killed_beacon(log, KILL_IN_OWN_LINES, "ci", "session", "stop", env=job)
    assert torn_runs(log) == [session]
    assert (base / "session.json").exists()

    expected = {session: ["session-one", "session-two"]}
    if next_step == "exec then stop":
        # It leaves the dead session's spool to its stop, but takes its lines out.
        exec_run = beacon(
            "ci", "exec", "--harness", "otel", "--json", "--", *POST, "exec-step", env=job
        )
        assert exec_run.returncode == 0, exec_run.stderr
        outcome = last_json_line(exec_run.stdout)
        assert outcome["validation"]["status"] == "ok"
        assert f"run {session} was stopped while it wrote its lines" in exec_run.stderr
        expected[outcome["session_id"]] = ["exec-step"]

    stop = beacon("ci", "session", "stop", "--json", env=job)
    assert stop.returncode == 0, stop.stderr
    result = last_json_line(stop.stdout)
    assert result["session_id"] == session
    assert result["validation"]["status"] == "ok"
    assert_each_record_once(log, expected)
    assert_no_raw_spool(base)
    assert not (base / "session.json").exists()
    ledger = read_ledger(ArtifactPaths.create(base))
    assert session in ledger.done and not ledger.interrupted


@pytest.mark.faults  # two runs: ~5 s
def test_an_execs_spool_left_after_its_log_was_written_is_deleted_not_reprocessed(
    tmp_path: Path,
) -> None:
    base = tmp_path / "beacon"
    log = base / "runtime.jsonl"
    killed_beacon(log, None, *exec_args(base, "written-one"))
    assert log.read_bytes().endswith(b"\n") and (base / "spool" / "otlp.jsonl").exists()
    (written,) = runs_in(log)

    after = beacon(*exec_args(base, "next-run"))
    assert after.returncode == 0, after.stderr
    outcome = last_json_line(after.stdout)
    assert [(e["session_id"], e.get("already_processed")) for e in outcome["recovered"]] == [
        (written, True)
    ]
    assert "it is deleted now" in after.stderr
    assert_each_record_once(log, {written: ["written-one"], outcome["session_id"]: ["next-run"]})
    assert_no_raw_spool(base)


@pytest.mark.faults  # a session and two stops: ~6 s
def test_a_session_stop_killed_after_writing_is_finished_without_writing_again(
    base: Path,
) -> None:
    info = start(base, "--harness", "otel")
    session = str(info["session_id"])
    subprocess.run([*POST, "session-one"], env=session_env(base), check=True, timeout=60)
    job = clean_env(BEACON_CI_BASE_DIR=str(base))
    log = base / "runtime.jsonl"
    killed_beacon(log, None, "ci", "session", "stop", env=job)
    assert runs_in(log) == [session] and not (base / "result.json").exists()

    stop = beacon("ci", "session", "stop", "--json", env=job)
    assert stop.returncode == 0, stop.stderr
    result = last_json_line(stop.stdout)
    assert (result["session_id"], result["validation"]["status"]) == (session, "ok")
    assert "checked, not written again" in stop.stderr
    assert_each_record_once(log, {session: ["session-one"]})
    assert_no_raw_spool(base)
    assert json.loads((base / "result.json").read_text())["session_id"] == session


def runs_in(log: Path) -> list[str]:
    """The sessions of a log whose every line is whole."""
    lines = log.read_text().splitlines()
    return list(dict.fromkeys(json.loads(line)["beacon"]["session_id"] for line in lines))
