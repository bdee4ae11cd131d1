"""The run report's cost at the end of a run, beside the pipeline's own.

    python -m benchmarks.report_stage EVENTS     # prints one JSON line

Writes a Claude-shaped spool (benchmarks.workload), runs the pipeline over it, then
builds the report from the written runtime.jsonl and renders report.json / .md / .html
as ``finish_run`` does. Prints wall and CPU seconds of both stages and the report's
share: the report re-reads the log the pipeline just wrote.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.pipeline import write_spool


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def measure(events: int) -> dict[str, object]:
    from beacon.paths import ArtifactPaths
    from beacon.pipeline import PipelineOptions, run_pipeline
    from beacon.report import report_for_run, write_reports

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        paths = ArtifactPaths.create(base)
        write_spool(base / "spool.jsonl", events)
        cpu, wall = _cpu(), time.perf_counter()
        result = run_pipeline(
            base / "spool.jsonl", PipelineOptions(session_id="bench", log_path=paths.log_path)
        )
        pipeline_cpu, pipeline_wall = _cpu() - cpu, time.perf_counter() - wall
        cpu, wall = _cpu(), time.perf_counter()
        report = report_for_run(paths, {"session_id": "bench", "exit_code": 0})
        write_reports(paths, report)
        report_cpu, report_wall = _cpu() - cpu, time.perf_counter() - wall
        lines = int(result.events_written)
        return {
            "events": events,
            "lines": lines,
            "log_mb": round(paths.log_path.stat().st_size / 1e6, 1),
            "pipeline_wall_s": round(pipeline_wall, 2),
            "pipeline_cpu_s": round(pipeline_cpu, 2),
            "report_wall_s": round(report_wall, 2),
            "report_cpu_s": round(report_cpu, 2),
            "report_cpu_us_per_line": round(report_cpu / max(lines, 1) * 1e6, 1),
            "report_share_of_pipeline_cpu": round(report_cpu / max(pipeline_cpu, 1e-9), 2),
        }


if __name__ == "__main__":
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    sys.stdout.write(orjson.dumps(measure(events)).decode() + "\n")
