"""GCS uploads through gcloud-aio-storage against fake-gcs-server on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import replace

from beacon.exports import gcs
from beacon.exports.objects import NDJSON, UploadObject
from beacon.exports.settings import ExportSettings, UploadTarget

from .conftest import gcs_call, gcs_object, unique_bucket
from .servers import FakeGcs

SETTINGS = ExportSettings(retry_deadline_s=20.0)


async def put(
    fake_gcs: FakeGcs, bucket: str, *objects: UploadObject, settings: ExportSettings = SETTINGS
) -> list[dict[str, object]]:
    return await gcs.upload(UploadTarget("gcs", bucket, "pre"), objects, settings, fake_gcs.env())


async def test_simple_upload_with_explicit_content_type(fake_gcs: FakeGcs, gcs_bucket: str) -> None:
    data = b'{"a":1}\n{"a":2}\n'
    records = await put(fake_gcs, gcs_bucket, UploadObject("pre/s/runtime.jsonl", data, NDJSON))
    assert records[0]["status"] == "ok", records
    assert records[0]["sha256"] == hashlib.sha256(data).hexdigest()
    meta, body = gcs_object(fake_gcs, gcs_bucket, "pre/s/runtime.jsonl")
    assert body == data
    assert meta["contentType"] == "application/x-ndjson"
    assert meta["metadata"] == {"sha256": hashlib.sha256(data).hexdigest()}


async def test_resumable_upload_above_threshold(fake_gcs: FakeGcs, gcs_bucket: str) -> None:
    data = b"".join(b'{"n":%d}\n' % i for i in range(20000))
    settings = replace(SETTINGS, multipart_threshold=64 * 1024)
    records = await put(
        fake_gcs, gcs_bucket, UploadObject("pre/r/runtime.jsonl", data, NDJSON), settings=settings
    )
    assert records[0]["status"] == "ok", records
    meta, body = gcs_object(fake_gcs, gcs_bucket, "pre/r/runtime.jsonl")
    assert body == data
    assert meta["contentType"] == "application/x-ndjson"
    assert meta["metadata"] == {"sha256": hashlib.sha256(data).hexdigest()}


async def test_gzip_object_is_stored_with_content_encoding(
    fake_gcs: FakeGcs, gcs_bucket: str
) -> None:
    data = b'{"a":1}\n' * 100
    obj = UploadObject("pre/z/runtime.jsonl.gz", gzip.compress(data), NDJSON, "gzip")
    assert (await put(fake_gcs, gcs_bucket, obj))[0]["status"] == "ok"
    meta = gcs_call(fake_gcs, "GET", f"/storage/v1/b/{gcs_bucket}/o/pre%2Fz%2Fruntime.jsonl.gz")
    assert meta["contentEncoding"] == "gzip"
    assert meta["contentType"] == "application/x-ndjson"


async def test_missing_bucket_names_bucket_and_fix(fake_gcs: FakeGcs) -> None:
    bucket = unique_bucket("absent")
    records = await put(fake_gcs, bucket, UploadObject("k", b"{}\n", NDJSON))
    assert records[0]["status"] == "failed"
    assert f"bucket {bucket!r} does not exist" in str(records[0]["error"])
    assert "BEACON_CI_GCS_BUCKET" in str(records[0]["error"])


async def test_never_overwrites_a_different_object(fake_gcs: FakeGcs, gcs_bucket: str) -> None:
    """ifGenerationMatch=0 on a multipart upload (the kind fake-gcs-server 1.54 honours it on)."""
    first = UploadObject("pre/o/runtime.jsonl", b"first\n", NDJSON)
    assert (await put(fake_gcs, gcs_bucket, first))[0]["status"] == "ok"
    second = UploadObject("pre/o/runtime.jsonl", b"second\n", NDJSON)
    records = await put(fake_gcs, gcs_bucket, second)
    assert records[0]["status"] == "failed"
    assert "already exists" in str(records[0]["error"])
    assert gcs_object(fake_gcs, gcs_bucket, "pre/o/runtime.jsonl")[1] == b"first\n"
    # The same bytes again (a retry after a lost answer) is not an error.
    assert (await put(fake_gcs, gcs_bucket, first))[0]["status"] == "ok"


async def test_no_credentials_outside_the_emulator(gcs_bucket: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"HOME": str(tmp_path)}
    records = await gcs.upload(
        UploadTarget("gcs", gcs_bucket), [UploadObject("k", b"{}\n", NDJSON)], SETTINGS, env
    )
    assert records[0]["status"] == "failed"
    assert "no Google credentials found" in str(records[0]["error"])
    assert "google-github-actions/auth" in str(records[0]["error"])


async def test_retries_after_injected_503s(
    fake_gcs: FakeGcs, gcs_bucket: str, proxy: object
) -> None:
    from .faults import times

    fault_proxy = await proxy(fake_gcs.url)  # type: ignore[operator]
    fault_proxy.rules.append(times(2, 503, lambda r: r.method == "POST"))
    records = await gcs.upload(
        UploadTarget("gcs", gcs_bucket),
        [UploadObject("r/runtime.jsonl", b"{}\n", NDJSON)],
        SETTINGS,
        {"STORAGE_EMULATOR_HOST": fault_proxy.url},
    )
    assert records[0]["status"] == "ok", records
    assert sum(line.startswith("POST") for line in fault_proxy.seen) == 3
    assert gcs_object(fake_gcs, gcs_bucket, "r/runtime.jsonl")[1] == b"{}\n"
