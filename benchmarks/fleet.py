"""The fleet report over many uploaded runs vs a floor: the same objects fetched and counted.

    python -m benchmarks.fleet RUNS EVENTS   prints {"report_s": ..., "floor_s": ..., ...}

One moto server on 127.0.0.1 holds RUNS objects of EVENTS runtime lines each (plus a
result.json per run), put there by a bare aiobotocore client before anything is timed.
Timed, each in a fresh process with a cold cache:
- report: ``beacon fleet report --source s3://… --format json``;
- floor: the same objects fetched with a bare aiobotocore client (16 at a time) and
  DuckDB counting their lines.
Then the report again on the warm cache. Peak RSS is each process's own.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

PREFIX = "fleet"


def run_bodies(runs: int, events: int, workdir: Path) -> list[tuple[str, bytes, bytes]]:
    """(session, runtime.jsonl body, result.json body) per run, from generated lines."""
    from tests.fleet.fleetgen import generate

    generate(workdir, runs=20, seed=3)
    lines = [
        line
        for log in sorted(workdir.rglob("runtime.jsonl"))
        for line in log.read_bytes().splitlines(keepends=True)
    ]
    pattern = re.compile(rb"sess-\d{5}")
    out = []
    for index in range(runs):
        session = f"bench-{index:06d}"
        chosen = [lines[(index + i) % len(lines)] for i in range(events)]
        body = pattern.sub(session.encode(), b"".join(chosen))
        result = orjson.dumps(
            {"session_id": session, "exit_code": 0, "validation": {"status": "ok"}}
        )
        out.append((session, body, result))
    return out


def client(url: str) -> Any:
    from aiobotocore.session import get_session

    from tests.exports.servers import S3_ENV

    return get_session().create_client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
    )


async def put_all(url: str, bucket: str, bodies: list[tuple[str, bytes, bytes]]) -> None:
    gate = asyncio.Semaphore(16)
    async with client(url) as s3:
        await s3.create_bucket(Bucket=bucket)

        async def put(session: str, body: bytes, result: bytes) -> None:
            async with gate:
                await s3.put_object(
                    Bucket=bucket, Key=f"{PREFIX}/{session}/runtime.jsonl", Body=body
                )
                await s3.put_object(
                    Bucket=bucket, Key=f"{PREFIX}/{session}/result.json", Body=result
                )

        await asyncio.gather(*(put(*entry) for entry in bodies))


async def fetch_all(url: str, bucket: str, target: Path) -> list[Path]:
    gate = asyncio.Semaphore(16)
    files: list[Path] = []
    async with client(url) as s3:
        keys = []
        async for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=PREFIX
        ):
            keys += [item["Key"] for item in page.get("Contents", [])]

        async def get(key: str) -> None:
            async with gate:
                response = await s3.get_object(Bucket=bucket, Key=key)
                async with response["Body"] as stream:
                    data = await stream.read()
            path = target / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if key.endswith(".jsonl"):
                files.append(path)

        await asyncio.gather(*(get(key) for key in keys))
    return files


def floor(url: str, bucket: str) -> None:
    """Child process: fetch, then DuckDB counts the lines; prints {"lines": N}."""
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        files = asyncio.run(fetch_all(url, bucket, Path(tmp)))
        row = (
            duckdb.connect()
            .execute(
                "SELECT count(*) FROM read_json($files, format = 'newline_delimited', "
                "columns = {'timestamp': 'VARCHAR'}, hive_partitioning = false)",
                {"files": [str(p) for p in files]},
            )
            .fetchone()
        )
        count = row[0] if row else 0
    print(orjson.dumps({"lines": count}).decode())


def seed(url: str, bucket: str, runs: int, events: int) -> None:
    """Child process: put the fleet into the store (the parent never holds it: peak RSS is
    inherited across fork and exec, so the measured children would report it as theirs)."""
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(put_all(url, bucket, run_bodies(runs, events, Path(tmp))))


def measure(url: str, runs: int, events: int, workdir: Path) -> dict[str, Any]:
    from tests.exports.servers import S3_ENV

    bucket = f"fleet-{uuid.uuid4().hex[:8]}"
    seed_argv = [
        sys.executable,
        "-m",
        "benchmarks.fleet",
        "seed",
        url,
        bucket,
        str(runs),
        str(events),
    ]
    subprocess.run(seed_argv, check=True, timeout=3600)
    env = {**os.environ, **S3_ENV, "BEACON_CI_S3_ENDPOINT_URL": url}
    cache = workdir / "cache"
    source = f"s3://{bucket}/{PREFIX}"
    report_argv = [sys.executable, "-m", "beacon", "fleet", "report", "--source", source,
                   "--format", "json", "--cache-dir", str(cache)]  # fmt: skip
    floor_argv = [sys.executable, "-m", "benchmarks.fleet", "floor", url, bucket]
    # The floor runs before and after the cold report; the faster of the two counts.
    first_floor_s, floor_rss, floor_out = _run_with_rss(floor_argv, env)
    report_s, report_rss, report_out = _run_with_rss(report_argv, env)
    second_floor_s, _, _ = _run_with_rss(floor_argv, env)
    floor_s = min(first_floor_s, second_floor_s)
    warm_s, _warm_rss, _ = _run_with_rss(report_argv, env)
    report = orjson.loads(report_out)
    counted = orjson.loads(floor_out.splitlines()[-1])["lines"]
    if report["totals"]["runs"] != runs or counted != runs * events:
        raise RuntimeError(f"wrong figures: {report['totals']['runs']} runs, {counted} lines")
    return {
        "runs": runs,
        "events": runs * events,
        "report_s": report_s,
        "warm_report_s": warm_s,
        "floor_s": floor_s,
        "report_rss_mb": report_rss,
        "floor_rss_mb": floor_rss,
    }


def _run_with_rss(argv: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(err.read().decode(errors="replace")[-2000:])
        return elapsed, usage.ru_maxrss / 1024, out.read()


def main() -> None:
    if sys.argv[1] == "floor":
        floor(sys.argv[2], sys.argv[3])
        return
    if sys.argv[1] == "seed":
        seed(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    from tests.exports.servers import moto_server

    runs, events = int(sys.argv[1]), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp, moto_server(Path(tmp)) as moto:
        result = measure(moto.url, runs, events, Path(tmp))
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
