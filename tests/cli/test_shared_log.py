"""Runs that share a ``--log-path`` take turns; one that waits says so, then writes."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

from beacon.pipeline.jsonl import LogLock

from .helpers import BEACON, clean_env, runtime_lines

WAITING = "waiting for another beacon run to finish writing"


def test_a_run_waiting_for_another_runs_write_says_so_then_writes(tmp_path: Path) -> None:
    log = tmp_path / "shared" / "runtime.jsonl"
    log.parent.mkdir()
    # Another run (here: this test) is writing the log from another base dir.
    holder = LogLock.acquire(log.resolve(), timeout_s=5)
    assert holder is not None
    process = subprocess.Popen(
        [
            BEACON,
            *("ci", "exec", "--base-dir", str(tmp_path / "base"), "--log-path", str(log)),
            *("--harness", "otel", "--require-telemetry=false", "--"),
            *(sys.executable, "-c", "pass"),
        ],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: queue.Queue[str | None] = queue.Queue()

    def read_stderr() -> None:
        assert process.stderr is not None
        with process.stderr:
            for line in process.stderr:
                said.put(line)
        said.put(None)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    heard: list[str] = []
    try:
        while not any(WAITING in line for line in heard):
            line = said.get(timeout=60)
            assert line is not None, f"beacon ended without saying it waits: {heard}"
            heard.append(line)
        waiting = next(line for line in heard if WAITING in line)
        assert str(log.resolve()) in waiting
        assert log.stat().st_size == 0  # nothing written while the other run holds it
        holder.release()
        assert process.wait(timeout=60) == 0
    finally:
        holder.release()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    reader.join(timeout=10)
    while (line := said.get(timeout=10)) is not None:
        heard.append(line)
    assert sum(WAITING in line for line in heard) == 1  # said once, not at every poll
    assert [line["event"]["action"] for line in runtime_lines(log)][-1] == "session.summary"
