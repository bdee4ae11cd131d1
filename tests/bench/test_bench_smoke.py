"""The benchmark suite at tiny sizes, so its code cannot rot. No figure is judged here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_benchmarks_run_and_print_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout
    for figure in (
        "exec: beacon ci exec -- sleep",
        "session start (until ready)",
        "session stop (idle session)",
        "ingest http/protobuf, 2 clients",
        "ingest http/json, 2 clients",
        "ingest grpc, 2 clients",
        "ingest http/protobuf, 2 clients, --fsync batch",
        "cancel: SIGINT -> exit, child exits on it",
        "cancel: SIGINT -> exit, child ignores it (escalation)",
        "export latency p99, grpc",
        "pipeline 1,000 events",
        "pipeline 1,000 events peak RSS",
        "upload 1 MB to local moto",
        "rules (builtin pack) 1,000 events",
        "fleet report, 3 runs x 20 events (cold cache)",
        "fleet report, warm cache",
        "fleet report peak RSS",
    ):
        assert figure in table, f"{figure!r} missing from:\n{table}"
    assert "FAIL" not in table and "pass" not in table  # smoke sizes are never judged
