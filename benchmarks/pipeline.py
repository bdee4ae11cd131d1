"""Pipeline throughput: spool -> runtime.jsonl with redaction on, events/s and peak RSS.

    python -m benchmarks.pipeline write SPOOL EVENTS   # a Claude-shaped spool
    python -m benchmarks.pipeline run SPOOL LOG        # run_pipeline; prints a JSON result
    python -m benchmarks.pipeline floor SPOOL          # baseline: parse, a line per record
    python -m benchmarks.pipeline stages SPOOL [N]     # CPU per stage, one process
    python -m benchmarks.pipeline rules SPOOL LOG      # run, then the builtin rule pack

``run`` happens in its own process so its peak RSS is the pipeline's alone. It
reports wall time, CPU seconds (user + system, of this process and of the worker
process that shares the chunks of a large spool, and of this process alone)
and peak RSS of the process and, separately, of its largest child
(RUSAGE_CHILDREN reports the largest, not a sum; there is one child).
``peak_rss_mb`` is their sum: the pipeline's memory footprint. The machine is
shared: CPU per event is the steadier figure.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from benchmarks.workload import log_requests

if TYPE_CHECKING:
    from beacon.pipeline import RedactionSettings


def write_spool(path: Path, events: int) -> None:
    from beacon.otlp.codec import encode_spool_line

    requests = log_requests(100)
    written = 0
    with path.open("wb") as spool:
        while written < events:
            spool.write(encode_spool_line("logs", next(requests)) + b"\n")
            written += 100


def _peak_rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def _cpu_seconds(*who: int) -> float:
    total = 0.0
    for which in who:
        usage = resource.getrusage(which)
        total += usage.ru_utime + usage.ru_stime
    return total


_ALL = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)


def production_redaction() -> RedactionSettings:
    """As ``finish_run`` builds it: the collector's token is always a literal to redact.

    A literal value turns the pipeline's clean-record fast path off, so a
    benchmark without one would measure a faster pipeline than production runs.
    """
    from beacon.pipeline import RedactionSettings
    from beacon.run.finish import TOKEN_NAME

    token = "bench-collector-token-" + "0123456789abcdef" * 2
    return RedactionSettings.from_environ({TOKEN_NAME: token}, redact_env=[TOKEN_NAME])


def run(spool: Path, log_path: Path) -> dict[str, object]:
    from beacon.pipeline import PipelineOptions, run_pipeline

    options = PipelineOptions(
        session_id="bench", log_path=log_path, redaction=production_redaction()
    )
    cpu_before, own_before = _cpu_seconds(*_ALL), _cpu_seconds(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = run_pipeline(spool, options)
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(*_ALL) - cpu_before
    own = _cpu_seconds(resource.RUSAGE_SELF) - own_before
    events = result.events_written
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report
    # the peak of whatever process spawned this one if that was larger.
    main_rss = _peak_rss_mb()
    # Linux reports ru_maxrss in KiB; the worker was forked from this process.
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "events": events,
        "seconds": elapsed,
        "events_per_s": events / elapsed if elapsed else 0.0,
        "cpu_seconds": cpu,
        "cpu_us_per_event": cpu / events * 1e6 if events else 0.0,
        # The pipeline process alone (the worker, beacon/pipeline/worker.py, takes the
        # chunks this process does not).
        "cpu_us_per_event_main": own / events * 1e6 if events else 0.0,
        # The footprint: this process's peak plus the child's (an upper bound of what
        # was resident at once), so the table's RSS figure counts the child too.
        "peak_rss_mb": main_rss + child_rss,
        "peak_rss_main_mb": main_rss,
        "peak_rss_children_mb": child_rss,
        "validation": result.validation.status,
        "redactions": dict(result.redactions),
    }


def rules(spool: Path, log_path: Path) -> dict[str, object]:
    """The pipeline, then the builtin pack over the lines it wrote, in one process.

    The rules stage's CPU per event beside the pipeline's (same process, same
    run, same commit): the pack must add at most 20 %.
    """
    from beacon.rules.settings import RulesSettings
    from beacon.rules.stage import evaluate_run

    pipeline = run(spool, log_path)
    cpu_before = _cpu_seconds(resource.RUSAGE_SELF)
    started = time.perf_counter()
    outcome = evaluate_run(log_path, start=0, session_id="bench", settings=RulesSettings())
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu_before
    events = int(pipeline["events"])  # type: ignore[call-overload]
    return {
        "events": events,
        "pipeline_cpu_us_per_event": pipeline["cpu_us_per_event"],
        "pipeline_cpu_us_per_event_main": pipeline["cpu_us_per_event_main"],
        "rules_seconds": elapsed,
        "rules_cpu_us_per_event": cpu / events * 1e6 if events else 0.0,
        "findings": len(outcome.findings),
        "lines_evaluated": outcome.summary["lines_evaluated"],
    }


def floor(spool: Path) -> dict[str, object]:
    """The least a spool -> JSON-lines step does, on one core: parse every spool line
    and write each log record as one JSON line. Beside the pipeline's figure it tells
    how fast the machine was in that minute (this VM's speed varies from run to run)."""
    from beacon.otlp import parse_spool_line

    events = 0
    started = time.perf_counter()
    cpu_before = _cpu_seconds(resource.RUSAGE_SELF)
    with spool.open("rb") as lines, Path(os.devnull).open("wb") as out:
        for raw in lines:
            parsed = parse_spool_line(raw)
            if parsed is None:
                continue
            for resource_logs in parsed[1].get("resourceLogs", ()):
                for scope in resource_logs.get("scopeLogs", ()):
                    records = scope.get("logRecords", ())
                    out.write(b"".join(orjson.dumps(record) + b"\n" for record in records))
                    events += len(records)
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu_before
    # CPU per event beside the pipeline's: on a busy machine the wall-clock ratio favours
    # the pipeline, whose two processes get two shares of the CPU to the floor's one.
    return {
        "events": events,
        "seconds": elapsed,
        "cpu_us_per_event": cpu / events * 1e6 if events else 0.0,
    }


def stages(spool: Path, limit: int) -> dict[str, object]:
    """CPU µs per event of each stage in one process, over the first ``limit`` events:
    spool parse (into structs where ``claudespool`` takes the line), normalize, protect
    (redact/sanitize/truncate + serialize), the check of each written line. Fast paths
    as ``BEACON_FAST_PATHS`` says (built regardless of the spool's size). The timers add
    ~1 µs per stage and event."""
    import gc

    from beacon.otlp import parse_spool_line
    from beacon.pipeline import PipelineOptions
    from beacon.pipeline.chunks import ChunkProcessor, ChunkSettings, make_protector
    from beacon.pipeline.normalize import NormalizeStats, normalize
    from beacon.pipeline.runner import _spool_chunks, make_context
    from beacon.pipeline.validate import LogScan

    options = PipelineOptions(session_id="bench", log_path=Path(os.devnull))
    fast = options.fast_paths
    ctx = make_context(
        options,
        make_protector(options.redaction, options.max_field_bytes, options.max_line_bytes),
    )
    settings = ChunkSettings(
        ctx=ctx,
        redaction=options.redaction,
        max_field_bytes=options.max_field_bytes,
        max_line_bytes=options.max_line_bytes,
        harnesses=options.harnesses,
        fast_paths=fast,
    )
    built = time.process_time()
    processor = ChunkProcessor(settings)
    built = time.process_time() - built
    clock = time.process_time
    spent = dict.fromkeys(("parse", "normalize", "protect", "check"), 0.0)
    events = 0
    fast_logs = processor.fast_logs
    if fast:
        from beacon.pipeline.claudespool import claude_request_lines, decode_claude_request
    gc.disable()  # as the chunk loop runs (gctune.paused_gc)
    with spool.open("rb") as data:
        for chunk, _last in _spool_chunks(data):
            check = LogScan.part("bench", options.harnesses, processor.typed)
            for piece in chunk.split(b"\n")[:-1]:
                start = clock()
                structs = decode_claude_request(piece) if fast else None
                request = parse_spool_line(piece) if structs is None else None
                parsed = clock()
                taken = claude_request_lines(structs, ctx, NormalizeStats()) if structs else None
                if structs is not None and taken is None:
                    request = parse_spool_line(piece)  # declined: the general path's turn
                lines = taken if taken is not None else []
                if request is not None:
                    lines = list(normalize((request,), ctx, NormalizeStats(), fast_logs=fast_logs))
                normalized = clock()
                written = [processor.protector.protect(line) for line in lines]
                protected = clock()
                for number, line_bytes in enumerate(written, start=events + 1):
                    check.add(number, line_bytes)
                checked = clock()
                spent["parse"] += parsed - start
                spent["normalize"] += normalized - parsed
                spent["protect"] += protected - normalized
                spent["check"] += checked - protected
                events += len(lines)
            gc.collect()
            if events >= limit:
                break
    per_event = {k: round(v / events * 1e6, 1) for k, v in spent.items()} if events else {}
    return {
        "fast_paths": fast,
        "build_seconds": round(built, 3),
        "events": events,
        "us_per_event": per_event,
        "total_us_per_event": round(sum(per_event.values()), 1),
    }


def main(argv: list[str]) -> None:
    if argv[0] == "write":
        write_spool(Path(argv[1]), int(argv[2]))
    elif argv[0] == "run":
        log = Path(argv[2])
        if log.exists():
            # The pipeline checks the lines a log already holds: a rerun on the same log
            # would measure the previous runs too.
            raise SystemExit(f"{log} exists: give a fresh path (or delete it) for a fair run")
        print(orjson.dumps(run(Path(argv[1]), log)).decode(), flush=True)
    elif argv[0] == "stages":
        limit = int(argv[2]) if len(argv) > 2 else 20_000
        print(orjson.dumps(stages(Path(argv[1]), limit)).decode(), flush=True)
    elif argv[0] == "rules":
        log = Path(argv[2])
        if log.exists():
            raise SystemExit(f"{log} exists: give a fresh path (or delete it) for a fair run")
        print(orjson.dumps(rules(Path(argv[1]), log)).decode(), flush=True)
    elif argv[0] == "floor":
        print(orjson.dumps(floor(Path(argv[1]))).decode(), flush=True)
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
