"""Upload throughput: beacon's S3 uploader vs a bare aiobotocore put, same bytes, same moto.

    python -m benchmarks.upload MIB     prints {"beacon_mb_s": ..., "bare_mb_s": ...}

Both write to one moto server on 127.0.0.1 started here; each side uploads the
same runtime-like body three times (fresh keys, a client opened per upload as a run
does) and the best run counts.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

RUNS = 3


def body(mib: int) -> bytes:
    line = b'{"event":{"action":"tool.call"},"pad":"' + b"x" * 400 + b'"}\n'
    return line * (mib * 1024 * 1024 // len(line))


async def measure(url: str, data: bytes) -> dict[str, float]:
    from aiobotocore.session import get_session

    from beacon.exports import s3
    from beacon.exports.objects import NDJSON, UploadObject
    from beacon.exports.settings import ExportSettings, UploadTarget
    from tests.exports.servers import S3_ENV

    env = {**S3_ENV, "BEACON_CI_S3_ENDPOINT_URL": url}
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    session = get_session()

    def bare_client():  # type: ignore[no-untyped-def]
        return session.create_client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        )

    # Warm-up: botocore loads its service model once per process.
    async with bare_client() as client:
        await client.create_bucket(Bucket=bucket)
    bare = []
    for _ in range(RUNS):
        # Both sides open a client per upload, as a run does.
        started = time.perf_counter()
        async with bare_client() as client:
            await client.put_object(Bucket=bucket, Key=f"bare/{uuid.uuid4().hex}", Body=data)
        bare.append(time.perf_counter() - started)
    ours = []
    target = UploadTarget("s3", bucket, "")
    for _ in range(RUNS):
        obj = UploadObject(f"beacon/{uuid.uuid4().hex}/runtime.jsonl", data, NDJSON)
        started = time.perf_counter()
        records = await s3.upload(target, [obj], ExportSettings(), env)
        ours.append(time.perf_counter() - started)
        if records[0]["status"] != "ok":
            raise RuntimeError(records[0]["error"])
    mb = len(data) / 1e6
    return {"beacon_mb_s": mb / min(ours), "bare_mb_s": mb / min(bare), "mb": mb}


def main() -> None:
    from tests.exports.servers import moto_server

    mib = int(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp, moto_server(Path(tmp)) as moto:
        result = asyncio.run(measure(moto.url, body(mib)))
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
