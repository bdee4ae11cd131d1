"""With the fast paths on (line scan, typed check, Claude log records), runtime.jsonl is
byte-identical.

"Identical" means: the same commit with the fast paths off (``fast_paths=False``,
``BEACON_FAST_PATHS=0``), on the recorded Claude Code runs, the benchmark's
workload and a spool full of planted secrets, bad lines, a sequence gap and a
torn tail; in one process and with the chunk worker. Only the summary line's
timestamp may differ. And the fast paths cost a small run nothing: they are
not even imported below ``fast_min_bytes``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from beacon.otlp.codec import request_to_dict
from beacon.pipeline import PipelineOptions, run_pipeline
from beacon.pipeline.linescan import available_engine
from beacon.pipeline.protect import LineProtector
from beacon.pipeline.settings import FAST_PATHS_ENV, fast_paths_enabled
from benchmarks.workload import log_requests

from .helpers import PROTOCOLS, fixture_requests, write_spool
from .test_parallel import _options, _secret_spool, _verdict_of_any_log


def _runs(spool: Path, tmp_path: Path, options: PipelineOptions) -> dict[bool, tuple[Any, bytes]]:
    results = {}
    for fast in (True, False):
        log = tmp_path / f"fast-{fast}.jsonl"
        chosen = replace(options, log_path=log, fast_paths=fast, fast_min_bytes=0)
        results[fast] = (run_pipeline(spool, chosen), log.read_bytes())
    return results


def _without_summary_time(data: bytes) -> list[bytes]:
    *lines, summary, end = data.split(b"\n")
    assert end == b""
    parsed = orjson.loads(summary)
    assert parsed["event"]["action"] == "session.summary"
    del parsed["timestamp"]
    return [*lines, orjson.dumps(parsed)]


def _assert_identical(results: dict[bool, tuple[Any, bytes]]) -> None:
    (fast, fast_log), (slow, slow_log) = results[True], results[False]
    assert _without_summary_time(fast_log) == _without_summary_time(slow_log)
    assert fast.redactions == slow.redactions
    assert fast.events_written == slow.events_written
    assert _verdict_of_any_log(fast.validation) == _verdict_of_any_log(slow.validation)


@pytest.mark.parametrize(
    ("protocol", "suffix"), [*((p, "") for p in PROTOCOLS), ("http-protobuf", ".write-tool")]
)
def test_the_golden_fixtures_are_written_identically(
    tmp_path: Path, protocol: str, suffix: str
) -> None:
    spool = write_spool(tmp_path / "spool.jsonl", fixture_requests(protocol, suffix))
    options = PipelineOptions(session_id="run-g", log_path=tmp_path / "unused")
    _assert_identical(_runs(spool, tmp_path, options))


@pytest.mark.parametrize("parallel_min_bytes", [1 << 40, 1])
def test_the_benchmark_workload_is_written_identically(
    tmp_path: Path, parallel_min_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped_walks = 0
    unchanged = LineProtector._unchanged

    def counting(self: LineProtector, line: dict[str, Any]) -> bytes | None:
        nonlocal skipped_walks
        data = unchanged(self, line)
        skipped_walks += data is not None
        return data

    monkeypatch.setattr(LineProtector, "_unchanged", counting)
    requests = log_requests(100)
    spool = write_spool(
        tmp_path / "spool.jsonl",
        [("logs", request_to_dict("logs", next(requests))) for _ in range(20)],
    )
    options = PipelineOptions(
        session_id="bench", log_path=tmp_path / "unused", parallel_min_bytes=parallel_min_bytes
    )
    results = _runs(spool, tmp_path, options)
    _assert_identical(results)
    assert results[True][0].redactions.get("github_token", 0) > 0  # the workload plants some
    if parallel_min_bytes > 1:
        # Not vacuous: in one process, the lines skipped the walk; the api_request fifth
        # too, once its keys ("input_tokens"..., anchor "token") were learned as benign.
        # Those with a planted token (~1 %) and the first of each kind did not.
        assert skipped_walks > 0.95 * results[True][0].events_written


def test_planted_secrets_bad_lines_and_a_torn_tail_are_written_identically(
    tmp_path: Path,
) -> None:
    spool = _secret_spool(tmp_path / "spool.jsonl", 300)
    results = _runs(spool, tmp_path, _options(tmp_path / "unused", 1))
    _assert_identical(results)
    assert set(results[True][0].redactions) >= {"github_token", "aws_access_key", "env_value"}


_PROBE = """
import sys
from pathlib import Path
from beacon.pipeline import PipelineOptions, run_pipeline
options = PipelineOptions(
    session_id="s", log_path=Path(sys.argv[2]), fast_min_bytes=int(sys.argv[3])
)
run_pipeline(Path(sys.argv[1]), options)
print(sorted(m for m in ("hyperscan", "re2", "msgspec") if m in sys.modules))
"""


@pytest.mark.parametrize("fast_min_bytes", [4 << 20, 0])
def test_a_small_run_does_not_even_import_the_fast_paths(
    tmp_path: Path, fast_min_bytes: int
) -> None:
    expected = sorted({available_engine() or "msgspec", "msgspec"}) if fast_min_bytes == 0 else []
    spool = write_spool(tmp_path / "spool.jsonl", fixture_requests("grpc"))
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            _PROBE,
            str(spool),
            str(tmp_path / "log.jsonl"),
            str(fast_min_bytes),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert orjson.loads(probe.stdout.replace("'", '"')) == expected


def test_the_switch_turns_them_off() -> None:
    assert fast_paths_enabled({})
    assert not fast_paths_enabled({FAST_PATHS_ENV: "0"})
    assert not fast_paths_enabled({FAST_PATHS_ENV: "off"})
    assert fast_paths_enabled({FAST_PATHS_ENV: "1"})


def test_the_version_names_the_engines_in_use() -> None:
    def version(environ: dict[str, str]) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "beacon", "--version"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={**os.environ, **environ},
        )
        return done.stdout.splitlines()

    engine = available_engine()
    assert version({FAST_PATHS_ENV: "1"})[1] == (
        f"pipeline fast paths: line scan {engine}, typed line check msgspec"
    )
    assert version({FAST_PATHS_ENV: "0"})[1] == "pipeline fast paths: off (BEACON_FAST_PATHS=0)"
