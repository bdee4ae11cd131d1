"""Run every benchmark and print one table (``nox -s bench``).

    python -m benchmarks            full sizes, targets checked
    python -m benchmarks --smoke    tiny sizes: proves the code runs, checks nothing

Every figure is reported beside a floor or baseline measured in the same run.
Traffic goes to 127.0.0.1 only; each load phase is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks import lifecycle, rollback
from benchmarks.report import Figure, render_table

PYTHON = sys.executable


@dataclass(frozen=True)
class Sizes:
    exec_runs: int
    child_seconds: float
    session_runs: int
    idle_seconds: float
    ingest_seconds: float
    ingest_clients: tuple[int, ...]
    pipeline_events: tuple[int, ...]
    upload_mib: int
    fleet: tuple[int, int]
    cancel_runs: int
    rollback_mib: int


FULL = Sizes(7, 1.0, 5, 10.0, 4.0, (1, 8, 64), (100_000, 1_000_000), 32, (1000, 1000), 3, 100)
SMOKE = Sizes(1, 0.05, 1, 0.0, 0.3, (2,), (1_000,), 1, (3, 20), 1, 1)


def _json_out(argv: list[str], **kwargs: Any) -> Any:
    out = subprocess.run(argv, check=True, capture_output=True, timeout=600, **kwargs).stdout
    return orjson.loads(out.splitlines()[-1])


def _count_lines(path: Path) -> int:
    # Streamed: reading a large spool at once would raise this process's peak RSS,
    # which Linux hands on to every child it spawns (ru_maxrss survives exec).
    with path.open("rb") as spool:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: spool.read(1 << 20), b""))


def _ingest_once(
    protocol: str, clients: int, seconds: float, fsync: str = "batch"
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """One collector process under one load process: (load result, final status, spool lines)."""
    with tempfile.TemporaryDirectory(dir=_disk_tmp()) as tmp:
        spool = Path(tmp, "spool.jsonl")
        server = subprocess.Popen(
            [PYTHON, "-m", "benchmarks.ingest", "serve", str(spool), fsync],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert server.stdout is not None and server.stdin is not None
        endpoints = orjson.loads(server.stdout.readline())
        url = endpoints["grpc" if protocol == "grpc" else "http"]
        load = _json_out(
            [PYTHON, "-m", "benchmarks.ingest", "load", url, protocol, str(clients), str(seconds)]
        )
        server.stdin.close()
        status = orjson.loads(server.stdout.readline())
        server.wait(timeout=30)
        spooled = _count_lines(spool)
    return load, status, spooled


def _disk_tmp() -> str | None:
    """Where the spools go: ``$BEACON_BENCH_TMP`` (a real disk matters for --fsync), else TMPDIR."""
    return os.environ.get("BEACON_BENCH_TMP") or None


def fsync_cost(sizes: Sizes) -> list[Figure]:
    """Ingest with each ``--fsync`` mode, same load: what durability costs."""
    figures = []
    protocol = "http/protobuf"
    for clients in sorted({1, max(sizes.ingest_clients)}):
        rates = {}
        for mode in ("off", "batch", "always"):
            load, status, _ = _ingest_once(protocol, clients, sizes.ingest_seconds, mode)
            rates[mode] = load["records"] / load["seconds"]
            figures.append(
                Figure(
                    f"ingest {protocol}, {clients} clients, --fsync {mode}",
                    rates[mode],
                    "records/s",
                    note=f"{status['spool_syncs']} fdatasyncs; export p50 "
                    f"{load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms",
                )
            )
    return figures


def ingest(sizes: Sizes) -> list[Figure]:
    figures = []
    for protocol in ("http/protobuf", "http/json", "grpc"):
        floor = _json_out(
            [PYTHON, "-m", "benchmarks.ingest", "floor", protocol, str(sizes.ingest_seconds)]
        )
        floor_rate = floor["records"] / floor["seconds"]
        for clients in sizes.ingest_clients:
            load, status, spooled = _ingest_once(protocol, clients, sizes.ingest_seconds)
            if status["records"]["logs"] != load["records"]:
                raise RuntimeError(
                    f"{protocol}: acknowledged {load['records']} records, "
                    f"collector counted {status['records']['logs']}"
                )
            rate = load["records"] / load["seconds"]
            figures.append(
                Figure(
                    f"ingest {protocol}, {clients} clients",
                    rate,
                    "records/s",
                    floor=floor_rate,
                    target=0.6,
                    rule="min",
                    note=f"{load['records']} records acknowledged, {spooled} spool lines; "
                    f"export p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms",
                )
            )
            if clients == max(sizes.ingest_clients):
                figures.append(
                    Figure(
                        f"export latency p50, {protocol}, {clients} clients", load["p50_ms"], "ms"
                    )
                )
                figures.append(
                    Figure(
                        f"export latency p99, {protocol}, {clients} clients", load["p99_ms"], "ms"
                    )
                )
    return figures


def pipeline(sizes: Sizes) -> list[Figure]:
    figures = []
    for events in sizes.pipeline_events:
        with tempfile.TemporaryDirectory() as tmp:
            spool = Path(tmp, "otlp.jsonl")
            subprocess.run(
                [PYTHON, "-m", "benchmarks.pipeline", "write", str(spool), str(events)],
                check=True,
                timeout=900,
            )
            floor_argv = [PYTHON, "-m", "benchmarks.pipeline", "floor", str(spool)]
            # The floor before, between and after the two runs, judged by their median: one
            # floor run moved from 17.3 to 24.3 us/event of CPU within minutes here (the
            # VM's speed, not the code), which alone flipped a verdict.
            floors = [_json_out(floor_argv)]
            result = _json_out(
                [PYTHON, "-m", "benchmarks.pipeline", "run", str(spool), str(Path(tmp, "on.jsonl"))]
            )
            floors.append(_json_out(floor_argv))
            # The same commit with the fast paths off (beacon/pipeline/linescan.py): the
            # before/after of each run, in the same minute.
            off = _json_out(
                [PYTHON, "-m", "benchmarks.pipeline", "run", str(spool), str(Path(tmp, "off"))],
                env={**os.environ, "BEACON_FAST_PATHS": "0"},
            )
            floors.append(_json_out(floor_argv))
        rates = [run["events"] / run["seconds"] for run in floors]
        floor = sorted(rates)[1]
        floor_runs = ", ".join(
            f"{rate:,.0f} events/s at {run['cpu_us_per_event']:.1f} us/event"
            for rate, run in zip(rates, floors, strict=True)
        )
        figures.append(
            Figure(
                f"pipeline {events:,} events",
                result["events"] / result["seconds"],
                "events/s",
                floor=floor,
                target=0.3,
                rule="min",
                note="floor = parse the spool and write each record as a JSON line, one core "
                "(the machine's speed in those minutes): the median of three runs, before, "
                f"between and after the two pipeline runs ({floor_runs}); "
                f"CPU {result['cpu_us_per_event']:.0f} us/event in all processes, "
                f"{result['cpu_us_per_event_main']:.0f} in the pipeline process; RSS "
                f"{result['peak_rss_main_mb']:.0f} MB + chunk worker "
                f"{result['peak_rss_children_mb']:.0f} MB; validation "
                f"{result['validation']}, redactions {result['redactions']}",
            )
        )
        figures.append(
            Figure(
                f"pipeline {events:,} events, fast paths off",
                off["events"] / off["seconds"],
                "events/s",
                floor=floor,
                note=f"BEACON_FAST_PATHS=0, right after; CPU {off['cpu_us_per_event']:.0f} "
                f"us/event in all processes; redactions {off['redactions']}",
            )
        )
        figures.append(
            Figure(
                f"pipeline {events:,} events peak RSS",
                result["peak_rss_mb"],
                "MB",
                target=100,
                rule="abs-max",
            )
        )
    return figures


def upload(sizes: Sizes) -> list[Figure]:
    """beacon's S3 upload (conditional create, checksum, multipart above 8 MiB) vs a bare put."""
    result = _json_out([PYTHON, "-m", "benchmarks.upload", str(sizes.upload_mib)])
    return [
        Figure(
            f"upload {result['mb']:.0f} MB to local moto",
            result["beacon_mb_s"],
            "MB/s",
            floor=result["bare_mb_s"],
            target=0.5,
            rule="min",
            note="floor = the same bytes put by a bare aiobotocore client in this run (one "
            "PUT); beacon sends 8 MiB parts with SHA-256 checksums and If-None-Match",
        )
    ]


def rules(sizes: Sizes) -> list[Figure]:
    """The builtin pack's CPU per event beside the pipeline's, in the same process and run."""
    events = sizes.pipeline_events[0]
    with tempfile.TemporaryDirectory() as tmp:
        spool, log = Path(tmp, "otlp.jsonl"), Path(tmp, "runtime.jsonl")
        subprocess.run(
            [PYTHON, "-m", "benchmarks.pipeline", "write", str(spool), str(events)],
            check=True,
            timeout=900,
        )
        result = _json_out([PYTHON, "-m", "benchmarks.pipeline", "rules", str(spool), str(log)])
    return [
        Figure(
            f"rules (builtin pack) {events:,} events",
            result["rules_cpu_us_per_event"],
            "us/event",
            floor=result["pipeline_cpu_us_per_event"],
            target=0.20,
            rule="max",
            note="floor = the pipeline's CPU per event (all processes) in the same process "
            f"and run; the pipeline process alone: {result['pipeline_cpu_us_per_event_main']:.0f}"
            f" us/event; {result['lines_evaluated']} lines read back, "
            f"{result['findings']} findings",
        )
    ]


def fleet(sizes: Sizes) -> list[Figure]:
    """``fleet report`` over runs in local moto vs fetching the same objects and counting lines."""
    runs, events = sizes.fleet
    result = _json_out([PYTHON, "-m", "benchmarks.fleet", str(runs), str(events)])
    total = result["events"]
    return [
        Figure(
            f"fleet report, {runs:,} runs x {events:,} events (cold cache)",
            total / result["report_s"],
            "events/s",
            floor=total / result["floor_s"],
            target=0.5,
            rule="min",
            note="floor = the same objects fetched by a bare aiobotocore client and their "
            "lines counted by DuckDB, in this run",
        ),
        Figure(
            "fleet report, warm cache",
            total / result["warm_report_s"],
            "events/s",
            floor=total / result["floor_s"],
        ),
        Figure("fleet report peak RSS", result["report_rss_mb"], "MB", target=1024, rule="abs-max"),
    ]


BENCHES = (
    "exec",
    "cancel",
    "session",
    "ingest",
    "fsync",
    "pipeline",
    "rules",
    "upload",
    "fleet",
    "rollback",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no targets")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a target is missed (for gating)"
    )
    parser.add_argument(
        "--only",
        choices=BENCHES,
        nargs="*",
    )
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    wanted = set(args.only or BENCHES)
    figures: list[Figure] = []
    if "exec" in wanted:
        figures += lifecycle.exec_overhead(sizes.exec_runs, sizes.child_seconds)
    if "cancel" in wanted:
        figures += lifecycle.cancel_costs(sizes.cancel_runs)
    if "session" in wanted:
        figures += lifecycle.session_costs(sizes.session_runs, sizes.idle_seconds)
    if "ingest" in wanted:
        figures += ingest(sizes)
    if "fsync" in wanted:
        figures += fsync_cost(sizes)
    if "pipeline" in wanted:
        figures += pipeline(sizes)
    if "rules" in wanted:
        figures += rules(sizes)
    if "upload" in wanted:
        figures += upload(sizes)
    if "fleet" in wanted:
        figures += fleet(sizes)
    if "rollback" in wanted:
        figures += rollback.rollback_costs(sizes.rollback_mib, _disk_tmp())
    print(render_table(figures, checked=not args.smoke))
    if args.smoke:
        return
    judged = [fig for fig in figures if fig.passed is not None]
    missed = [fig.name for fig in judged if not fig.passed]
    print(f"\ntargets: {len(judged) - len(missed)} met, {len(missed)} missed")
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
