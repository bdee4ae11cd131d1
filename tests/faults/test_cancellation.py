"""GitHub's whole cancellation sequence during `ci exec`, played as the runner plays it.

The runner sends SIGINT, then SIGTERM 7.5 s later if the step still runs, then
SIGKILL 2.5 s after that. beacon must be gone before the SIGKILL would be needed,
with the child's whole process group ended, ``runtime.jsonl`` holding what was
acknowledged before the cancel, and ``result.json`` saying the run was cancelled.
Each case prints "signal to exit: X s".
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from beacon.paths import ArtifactPaths
from beacon.run.child import group_members
from beacon.run.ledger import read_ledger
from beacon.run.state import process_alive
from tests.cli.helpers import BEACON, CHILD, clean_env, runtime_lines, wait_for

pytestmark = pytest.mark.faults

#: The runner's escalation (actions/runner: ProcessInvoker's SIGINT → SIGTERM → SIGKILL).
SIGTERM_AFTER_S = 7.5
SIGKILL_AFTER_S = 2.5
PROTOCOLS = ["http/protobuf", "grpc"]


@dataclass
class Cancellation:
    sent: list[str]
    """The signals the runner had to send, in order."""
    elapsed_s: float
    """From the SIGINT to beacon's exit."""
    returncode: int


def cancel_like_github(
    process: subprocess.Popen[bytes], *, between: Callable[[], None] | None = None
) -> Cancellation:
    """SIGINT; SIGTERM only if beacon still runs 7.5 s later; SIGKILL 2.5 s after that.

    Waits on the process's exit (``Popen.wait`` with a timeout), never sleeps.
    ``between``: called after the SIGINT; it may wait for an event and send the
    SIGTERM itself earlier than the runner would (returning after sending it).
    """
    sent = ["SIGINT"]
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    if between is not None:
        between()
        sent.append("SIGTERM")
    try:
        process.wait(timeout=SIGTERM_AFTER_S - (time.monotonic() - started))
    except subprocess.TimeoutExpired:
        if "SIGTERM" not in sent:
            process.send_signal(signal.SIGTERM)
            sent.append("SIGTERM")
        try:
            process.wait(timeout=SIGKILL_AFTER_S)
        except subprocess.TimeoutExpired:
            process.kill()
            sent.append("SIGKILL")
            process.wait(timeout=30)
    assert process.returncode is not None
    return Cancellation(sent, time.monotonic() - started, process.returncode)


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    base: Path
    scratch: Path
    copier: threading.Thread | None = None

    @property
    def stderr(self) -> str:
        return (self.scratch / "stderr").read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return (self.scratch / "stdout").read_text(errors="replace")

    def pid_from(self, name: str) -> int:
        path = self.scratch / name
        wait_for(lambda: path.exists() and path.read_text().strip() != "", what=name)
        return int(path.read_text())

    def acked(self) -> list[str]:
        path = self.scratch / "acked"
        return path.read_text().split() if path.exists() else []


def start(
    tmp_path: Path,
    protocol: str,
    wrapper: str,
    *child: str,
    on_stderr_line: Callable[[str], None] | None = None,
) -> Run:
    """`ci exec` around ``bash -c WRAPPER`` (which runs the test child as "$@").

    ``on_stderr_line``: called with each line beacon (or the child) writes to stderr,
    as it is written (the lines still go to the ``stderr`` file).
    """
    base, scratch = tmp_path / "base", tmp_path / "scratch"
    scratch.mkdir()
    with (scratch / "stdout").open("wb") as out, (scratch / "stderr").open("wb") as err:
        process = subprocess.Popen(
            [
                BEACON,
                *("ci", "exec", "--base-dir", str(base), "--harness", "otel"),
                *("--protocol", protocol, "--json", "--"),
                *("bash", "-c", wrapper.format(s=scratch), "wrapper"),
                *CHILD,
                *(step.format(s=scratch) for step in child),
            ],
            # GitHub Actions: beacon prints ::add-mask:: and the job-summary lines too.
            env=clean_env(GITHUB_ACTIONS="true"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err if on_stderr_line is None else subprocess.PIPE,
        )
    run = Run(process, base, scratch)
    if on_stderr_line is not None:
        run.copier = threading.Thread(
            target=_copy_lines, args=(process, scratch / "stderr", on_stderr_line), daemon=True
        )
        run.copier.start()
    return run


def _copy_lines(
    process: subprocess.Popen[bytes], path: Path, on_line: Callable[[str], None]
) -> None:
    assert process.stderr is not None
    with process.stderr, path.open("ab") as copy:
        for line in process.stderr:
            copy.write(line)
            copy.flush()
            on_line(line.decode(errors="replace"))


# The wrapper records its process group (it execs the child, the group's leader)
# and the grandchild it leaves in it.
EXEC_CHILD = 'echo $$ > {s}/pgid; exec "$@"'
IGNORING_GROUP = (
    "trap '' INT TERM HUP; sleep 600 & echo $! > {s}/grandchild; echo $$ > {s}/pgid; exec \"$@\""
)


def cancelled(run: Run, *, between: Callable[[], None] | None = None) -> Cancellation:
    try:
        return cancel_like_github(run.process, between=between)
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        if run.copier is not None:
            run.copier.join(timeout=30)  # EOF once beacon and the child's group are gone
            assert not run.copier.is_alive(), "someone still holds beacon's stderr"


def assert_cleanly_cancelled(
    run: Run, cancellation: Cancellation, *, exit_code: int, before_cancel: list[str]
) -> dict[str, Any]:
    """The guarantees of every case; returns result.json."""
    assert "SIGKILL" not in cancellation.sent, (
        f"beacon outlived SIGTERM + 2.5 s ({cancellation.elapsed_s:.1f}s)\n{run.stderr}"
    )
    assert cancellation.returncode == exit_code, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    pgid = run.pid_from("pgid")
    assert group_members(pgid) == [], "the child's process group outlived beacon"
    result = json.loads((run.base / "result.json").read_text())
    assert result["exit_code"] == exit_code
    assert result["cancelled_by"] == signal.SIGINT, result
    assert json.loads(run.stdout.splitlines()[-1]) == result
    lines = runtime_lines(run.base / "runtime.jsonl")
    session = result["session_id"]
    assert {line["beacon"]["session_id"] for line in lines} == {session}
    written = json.dumps(lines)
    missing = [body for body in before_cancel if body not in written]
    assert not missing, f"{len(missing)} acknowledged records missing, e.g. {missing[:3]}"
    assert lines[-1]["event"]["action"] == "session.summary"
    # No raw spool left unprocessed: it is gone, or kept and in the ledger.
    paths = ArtifactPaths.create(run.base)
    leftover = sorted(p.name for p in paths.spool_dir.glob(f"{paths.spool_path.name}*"))
    kept = result.get("spool_path")
    assert leftover == ([Path(kept).name] if kept else []), (leftover, result)
    if kept:
        assert session in read_ledger(paths).done
    return result


def report(case: str, protocol: str, cancellation: Cancellation, records: int) -> None:
    print(
        f"\n{case} ({protocol}): signal to exit: {cancellation.elapsed_s:.2f} s; "
        f"signals sent: {', '.join(cancellation.sent)}; {records} acknowledged records kept"
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_child_that_exits_on_sigint(tmp_path: Path, protocol: str) -> None:
    run = start(
        tmp_path,
        protocol,
        EXEC_CHILD,
        "log:before the cancel",
        "ready:{s}/ready",
        "waitsig:{s}/got",
        "exit:0",
    )
    wait_for((run.scratch / "ready").exists, timeout=60, what="the child to run")
    cancellation = cancelled(run)
    # The child stopped cleanly on the forwarded SIGINT; the job was still cancelled.
    result = assert_cleanly_cancelled(
        run, cancellation, exit_code=128 + signal.SIGINT, before_cancel=["before the cancel"]
    )
    assert (run.scratch / "got").read_text() == str(int(signal.SIGINT))
    assert result["child_exit_code"] == 0
    assert cancellation.sent == ["SIGINT"]
    report("child exits on SIGINT", protocol, cancellation, 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_group_that_ignores_sigint_and_sigterm_is_killed_by_beacon(
    tmp_path: Path, protocol: str
) -> None:
    run = start(
        tmp_path,
        protocol,
        IGNORING_GROUP,
        "ignore",
        "log:before the cancel",
        "ready:{s}/ready",
        "hang",
    )
    wait_for((run.scratch / "ready").exists, timeout=60, what="the child to run")
    grandchild = run.pid_from("grandchild")
    cancellation = cancelled(run)
    # Only beacon's own escalation ends it: SIGKILL to the group after the grace.
    result = assert_cleanly_cancelled(
        run, cancellation, exit_code=128 + signal.SIGKILL, before_cancel=["before the cancel"]
    )
    assert result["child_exit_code"] == 128 + signal.SIGKILL
    assert not process_alive(grandchild)
    report("group ignores SIGINT and SIGTERM", protocol, cancellation, 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("ignoring", [False, True], ids=["stops-on-sigint", "ignores-signals"])
def test_exports_in_flight_at_the_cancel_are_drained(
    tmp_path: Path, protocol: str, ignoring: bool
) -> None:
    wrapper, steps = (IGNORING_GROUP, ["ignore"]) if ignoring else (EXEC_CHILD, [])
    run = start(tmp_path, protocol, wrapper, *steps, "stream:{s}/acked", "exit:0")
    wait_for(lambda: len(run.acked()) >= 20, timeout=60, what="the child's first exports")
    cancellation = cancelled(run)
    acked = run.acked()
    expected = 128 + (signal.SIGKILL if ignoring else signal.SIGINT)
    result = assert_cleanly_cancelled(run, cancellation, exit_code=expected, before_cancel=acked)
    assert result["drain"]["records"] >= 0
    report(
        f"exports in flight, child {'ignores signals' if ignoring else 'stops on SIGINT'}",
        protocol,
        cancellation,
        len(acked),
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sigterm_while_beacon_finishes_after_the_sigint(tmp_path: Path, protocol: str) -> None:
    """The runner's SIGTERM landing in the drain or the pipeline, not in the child's grace.

    On a slow runner beacon may still be writing the log 7.5 s after the SIGINT:
    here the SIGTERM is sent as soon as beacon reports the child gone.
    """
    armed = threading.Event()
    sent = threading.Event()
    process: list[subprocess.Popen[bytes]] = []

    def on_line(line: str) -> None:
        # The moment beacon reports the child gone, it drains and writes: SIGTERM now.
        if armed.is_set() and not sent.is_set() and line.startswith("beacon: child exited"):
            process[0].send_signal(signal.SIGTERM)
            sent.set()

    run = start(
        tmp_path, protocol, EXEC_CHILD, "stream:{s}/acked", "exit:0", on_stderr_line=on_line
    )
    process.append(run.process)
    wait_for(lambda: len(run.acked()) >= 20, timeout=60, what="the child's first exports")
    armed.set()

    def sigterm_once_the_child_is_gone() -> None:
        assert sent.wait(timeout=SIGTERM_AFTER_S), "beacon never reported the child's exit"

    cancellation = cancelled(run, between=sigterm_once_the_child_is_gone)
    acked = run.acked()
    result = assert_cleanly_cancelled(
        run, cancellation, exit_code=128 + signal.SIGINT, before_cancel=acked
    )
    assert result["child_exit_code"] == 0
    # The SIGTERM reached beacon while it finished, and was held, not fatal.
    assert "SIGTERM arrived while beacon was finishing" in run.stderr, run.stderr
    report("SIGTERM during the drain/pipeline", protocol, cancellation, len(acked))
