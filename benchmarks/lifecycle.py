"""Wall-clock costs users feel: exec overhead, session start/stop, the idle daemon's footprint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from benchmarks.report import Figure, median_of

PYTHON = sys.executable
# The console script, as users run it (`python -m beacon` would pick up a `beacon/`
# artifact directory in the working directory before the package).
BEACON = [str(Path(PYTHON).with_name("beacon"))]
FLOOR_IMPORTS = (
    "import aiohttp.web, grpc.aio; "
    "from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc; "
    "from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc; "
    "from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc"
)


def _timed(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv,
        check=True,
        env=env,
        timeout=timeout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def exec_overhead(runs: int, child_seconds: float) -> list[Figure]:
    sleep = ["sleep", str(child_seconds)]
    # The same command with the pipeline's fast paths off (beacon/pipeline/linescan.py):
    # they are built only for big spools, so a small run must cost the same either way.
    off = {**os.environ, "BEACON_FAST_PATHS": "0"}
    with tempfile.TemporaryDirectory() as base:
        wrapped = [
            *BEACON,
            "ci",
            "exec",
            "--base-dir",
            base,
            "--harness",
            "otel",
            "--no-require-telemetry",
            "--quiet",
            "--",
            *sleep,
        ]
        beacon_times: list[float] = []
        off_times: list[float] = []
        sleep_times: list[float] = []
        for _ in range(runs):
            beacon_times.append(_timed(wrapped))
            off_times.append(_timed(wrapped, env=off))
            sleep_times.append(_timed(sleep))
    wrapped_median, floor_median = median_of(beacon_times), median_of(sleep_times)
    off_median = median_of(off_times)
    return [
        Figure(
            f"exec: beacon ci exec -- sleep {child_seconds:g}",
            wrapped_median,
            "s",
            floor=floor_median,
            target=1.3,
            rule="max",
            note=f"median of {runs} alternating runs; floor = bare sleep",
        ),
        Figure(
            "exec: overhead (start, drain, normalize, validate, exit)",
            wrapped_median - floor_median,
            "s",
            target=0.3,
            rule="abs-max",
        ),
        Figure(
            "exec: fast paths on minus off",
            wrapped_median - off_median,
            "s",
            target=0.02,
            rule="abs-max",
            note=f"BEACON_FAST_PATHS=0 median {off_median:.3f} s, interleaved in the same runs",
        ),
    ]


def _daemon_pid(base: str) -> int:
    state = orjson.loads(Path(base, "session.json").read_bytes())
    return int(state["pid"])


def _rss_and_cpu(pid: int) -> tuple[float, float]:
    """Resident set size (MB) and CPU seconds used so far, from /proc."""
    with Path(f"/proc/{pid}/status").open() as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    with Path(f"/proc/{pid}/stat").open() as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


def session_costs(runs: int, idle_seconds: float) -> list[Figure]:
    starts: list[float] = []
    floors: list[float] = []
    stops: list[float] = []
    rss_mb = cpu_s = 0.0
    for attempt in range(runs):
        base = tempfile.mkdtemp(prefix="beacon-bench-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        try:
            floors.append(_timed([PYTHON, "-c", FLOOR_IMPORTS]))
            starts.append(
                _timed(
                    [
                        *BEACON,
                        "ci",
                        "session",
                        "start",
                        "--base-dir",
                        base,
                        "--harness",
                        "otel",
                        "--quiet",
                    ],
                    env=env,
                )
            )
            if attempt == 0 and idle_seconds > 0:
                pid = _daemon_pid(base)
                _, cpu_before = _rss_and_cpu(pid)
                # Measuring an idle daemon means letting it idle; this is the measurement.
                time.sleep(idle_seconds)
                rss_mb, cpu_after = _rss_and_cpu(pid)
                cpu_s = cpu_after - cpu_before
            stops.append(
                _timed(
                    [
                        *BEACON,
                        "ci",
                        "session",
                        "stop",
                        "--base-dir",
                        base,
                        "--no-require-telemetry",
                        "--quiet",
                    ],
                    env=env,
                )
            )
        finally:
            shutil.rmtree(base, ignore_errors=True)
    floor = median_of(floors)
    figures = [
        Figure(
            "session start (until ready)",
            median_of(starts),
            "s",
            floor=floor,
            target=1.2 + 0.15 / floor,
            rule="max",
            note="floor = fresh interpreter importing aiohttp, grpc.aio and the OTLP "
            "service stubs; target 1.2x floor + 0.15 s for spawning the daemon",
        ),
        Figure("session stop (idle session)", median_of(stops), "s"),
    ]
    if idle_seconds > 0:
        figures += [
            Figure("daemon idle RSS", rss_mb, "MB"),
            Figure(f"daemon idle CPU over {idle_seconds:g} s", cpu_s / idle_seconds * 100, "%"),
        ]
    return figures


# A child that says it is ready (a file), then waits: exits on SIGINT/SIGTERM,
# or with "ignore" ignores both so that beacon has to escalate to SIGKILL.
_WAITING_CHILD = """
import pathlib, signal, sys, time
if sys.argv[2] == "ignore":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(sys.argv[1]).touch()
while True:
    time.sleep(60)
"""


def _cancel_once(mode: str) -> float:
    """Seconds from SIGINT to `ci exec`'s exit, with runtime.jsonl and result.json written."""
    with tempfile.TemporaryDirectory() as base:
        ready = Path(base, "ready")
        process = subprocess.Popen(
            [
                *BEACON,
                *("ci", "exec", "--base-dir", base, "--harness", "otel"),
                *("--no-require-telemetry", "--quiet", "--"),
                *(PYTHON, "-c", _WAITING_CHILD, str(ready), mode),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():  # the child announces itself with a file
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the child did not start")
                time.sleep(0.01)
            sent = time.perf_counter()
            process.send_signal(2)  # SIGINT, as GitHub's cancellation starts
            process.wait(timeout=60)
            elapsed = time.perf_counter() - sent
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if not Path(base, "result.json").exists():
            raise RuntimeError(f"cancel ({mode}): no result.json")
    return elapsed


def cancel_costs(runs: int) -> list[Figure]:
    """GitHub cancels with SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after that."""
    exits = [_cancel_once("exit") for _ in range(runs)]
    ignores = [_cancel_once("ignore") for _ in range(runs)]
    return [
        Figure(
            "cancel: SIGINT -> exit, child exits on it",
            median_of(exits),
            "s",
            target=7.0,
            rule="abs-max",
            note=f"median of {runs}; max {max(exits):.2f} s; log and result.json written",
        ),
        Figure(
            "cancel: SIGINT -> exit, child ignores it (escalation)",
            median_of(ignores),
            "s",
            target=7.5,
            rule="abs-max",
            note=f"median of {runs}; max {max(ignores):.2f} s; GitHub sends SIGTERM at 7.5 s",
        ),
    ]
