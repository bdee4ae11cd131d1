"""S3 uploads through aiobotocore against a real moto server on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import replace

import pytest
from aiohttp import web

from beacon.exports import s3
from beacon.exports.objects import NDJSON, UploadObject
from beacon.exports.settings import ExportSettings, UploadTarget

from .conftest import s3_client, unique_bucket
from .faults import times
from .servers import MotoS3

MIB = 1024 * 1024
SETTINGS = ExportSettings(retry_deadline_s=20.0)


def lines(n: int, width: int = 200) -> bytes:
    return b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"x" * width) for i in range(n))


async def put(
    moto_url: str,
    moto: MotoS3,
    bucket: str,
    *objects: UploadObject,
    settings: ExportSettings = SETTINGS,
) -> list[dict[str, object]]:
    env = {**moto.env(), "BEACON_CI_S3_ENDPOINT_URL": moto_url}
    return await s3.upload(UploadTarget("s3", bucket, "pre"), objects, settings, env)


async def test_put_stores_bytes_content_type_and_checksum(moto: MotoS3, s3_bucket: str) -> None:
    data = lines(50)
    records = await put(
        moto.url, moto, s3_bucket, UploadObject("pre/a/runtime.jsonl", data, NDJSON)
    )
    assert records == [
        {
            "destination": f"s3://{s3_bucket}/pre",
            "bucket": s3_bucket,
            "key": "pre/a/runtime.jsonl",
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "status": "ok",
            "error": None,
        }
    ]
    stored = s3_client(moto).get_object(Bucket=s3_bucket, Key="pre/a/runtime.jsonl")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "application/x-ndjson"
    assert stored["Metadata"] == {"sha256": hashlib.sha256(data).hexdigest()}


async def test_gzip_object_carries_content_encoding(moto: MotoS3, s3_bucket: str) -> None:
    data = lines(20)
    body = gzip.compress(data)
    obj = UploadObject("k/runtime.jsonl.gz", body, NDJSON, content_encoding="gzip")
    await put(moto.url, moto, s3_bucket, obj)
    stored = s3_client(moto).get_object(Bucket=s3_bucket, Key="k/runtime.jsonl.gz")
    assert stored["ContentEncoding"] == "gzip"
    assert gzip.decompress(stored["Body"].read()) == data


@pytest.mark.parametrize(("sse", "key_id"), [("AES256", None), ("aws:kms", "alias/beacon")])
async def test_server_side_encryption_headers(
    moto: MotoS3, s3_bucket: str, proxy: object, sse: str, key_id: str | None
) -> None:
    fault_proxy = await proxy(moto.url)  # type: ignore[operator]
    captured: list[dict[str, str]] = []

    def record(request: web.Request) -> None:
        if request.method == "PUT":
            captured.append(dict(request.headers))
        return None

    fault_proxy.rules.append(record)
    settings = replace(SETTINGS, sse=sse, sse_kms_key_id=key_id)
    records = await put(
        fault_proxy.url, moto, s3_bucket, UploadObject("k/r", b"{}\n", NDJSON), settings=settings
    )
    assert records[0]["status"] == "ok", records
    assert captured[0]["x-amz-server-side-encryption"] == sse
    if key_id:
        assert captured[0]["x-amz-server-side-encryption-aws-kms-key-id"] == key_id
    assert captured[0]["If-None-Match"] == "*"
    assert captured[0]["x-amz-checksum-sha256"]


async def test_multipart_above_threshold(moto: MotoS3, s3_bucket: str, proxy: object) -> None:
    fault_proxy = await proxy(moto.url)  # type: ignore[operator]
    data = lines(12 * MIB // 220)
    settings = replace(SETTINGS, multipart_threshold=5 * MIB, part_size=5 * MIB, max_concurrency=2)
    records = await put(
        fault_proxy.url,
        moto,
        s3_bucket,
        UploadObject("big/runtime.jsonl", data, NDJSON),
        settings=settings,
    )
    assert records[0]["status"] == "ok", records
    assert sum("partNumber=" in line for line in fault_proxy.seen) == 3
    stored = s3_client(moto).get_object(Bucket=s3_bucket, Key="big/runtime.jsonl")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == NDJSON


async def test_multipart_failure_aborts_and_leaves_no_parts(
    moto: MotoS3, s3_bucket: str, proxy: object
) -> None:
    fault_proxy = await proxy(moto.url)  # type: ignore[operator]
    fault_proxy.rules.append(times(1, 400, lambda r: "partNumber=2" in r.path_qs))
    data = lines(12 * MIB // 220)
    settings = replace(SETTINGS, multipart_threshold=5 * MIB, part_size=5 * MIB, max_concurrency=1)
    records = await put(
        fault_proxy.url,
        moto,
        s3_bucket,
        UploadObject("big/runtime.jsonl", data, NDJSON),
        settings=settings,
    )
    assert records[0]["status"] == "failed"
    assert any(line.startswith("DELETE") and "uploadId=" in line for line in fault_proxy.seen)
    client = s3_client(moto)
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


async def test_retries_after_injected_503s(moto: MotoS3, s3_bucket: str, proxy: object) -> None:
    fault_proxy = await proxy(moto.url)  # type: ignore[operator]
    fault_proxy.rules.append(times(2, 503, lambda r: r.method == "PUT"))
    records = await put(fault_proxy.url, moto, s3_bucket, UploadObject("r/k", b"{}\n", NDJSON))
    assert records[0]["status"] == "ok", records
    assert sum(line.startswith("PUT") for line in fault_proxy.seen) == 3
    assert s3_client(moto).get_object(Bucket=s3_bucket, Key="r/k")["Body"].read() == b"{}\n"


async def test_never_overwrites_a_different_object(moto: MotoS3, s3_bucket: str) -> None:
    client = s3_client(moto)
    client.put_object(Bucket=s3_bucket, Key="x/runtime.jsonl", Body=b"someone else's\n")
    records = await put(
        moto.url, moto, s3_bucket, UploadObject("x/runtime.jsonl", b"ours\n", NDJSON)
    )
    assert records[0]["status"] == "failed"
    assert "already exists" in str(records[0]["error"])
    assert client.get_object(Bucket=s3_bucket, Key="x/runtime.jsonl")["Body"].read() == (
        b"someone else's\n"
    )


async def test_same_bytes_again_is_success(moto: MotoS3, s3_bucket: str) -> None:
    """A retry after a lost answer finds its own object: not an error."""
    obj = UploadObject("y/runtime.jsonl", b"ours\n", NDJSON)
    assert (await put(moto.url, moto, s3_bucket, obj))[0]["status"] == "ok"
    assert (await put(moto.url, moto, s3_bucket, obj))[0]["status"] == "ok"


async def test_missing_bucket_names_bucket_and_fix(moto: MotoS3) -> None:
    bucket = unique_bucket("absent")
    records = await put(
        moto.url,
        moto,
        bucket,
        UploadObject("k", b"{}\n", NDJSON),
        UploadObject("k2", b"{}\n", NDJSON),
    )
    assert records[0]["status"] == "failed"
    error = str(records[0]["error"])
    assert f"bucket {bucket!r} does not exist" in error
    assert "BEACON_CI_S3_BUCKET" in error
    assert records[1]["status"] == "failed"


async def test_missing_credentials_names_the_fix(moto: MotoS3, s3_bucket: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    env = {
        "BEACON_CI_S3_ENDPOINT_URL": moto.url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-1",
    }
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("AWS_")}
    os.environ.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        records = await s3.upload(
            UploadTarget("s3", s3_bucket), [UploadObject("k", b"{}\n", NDJSON)], SETTINGS, env
        )
    finally:
        for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED"):
            os.environ.pop(name, None)
        os.environ.update(saved)
    assert records[0]["status"] == "failed"
    assert "no AWS credentials found" in str(records[0]["error"])
    assert "configure-aws-credentials" in str(records[0]["error"])


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDenied", 403, "access denied"),
        ("InvalidAccessKeyId", 403, "AWS rejected the credentials"),
        ("SlowDown", 503, "SlowDown"),
    ],
)
def test_iam_answers_are_classified_with_their_fix(code: str, status: int, expected: str) -> None:
    """IAM cannot exist here: the answer S3 gives is built by hand (botocore's own type)."""
    from botocore.exceptions import ClientError

    error = ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )
    failure = s3.classify(error, UploadTarget("s3", "bkt", "pre"), "pre/k")
    assert expected in failure.describe()
    assert failure.retryable is (code == "SlowDown")
    if code == "AccessDenied":
        assert (
            "s3:PutObject" in failure.describe() and "arn:aws:s3:::bkt/pre*" in failure.describe()
        )


async def test_retries_after_a_connection_reset(
    moto: MotoS3, s3_bucket: str, proxy: object
) -> None:
    from .faults import RESET

    fault_proxy = await proxy(moto.url)  # type: ignore[operator]
    fault_proxy.rules.append(times(1, RESET, lambda r: r.method == "PUT"))
    records = await put(fault_proxy.url, moto, s3_bucket, UploadObject("c/k", b"{}\n", NDJSON))
    assert records[0]["status"] == "ok", records
    assert sum(line.startswith("PUT") for line in fault_proxy.seen) == 2
