"""Fixtures: one moto server and one fake-gcs-server per test session, buckets per test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from .servers import FakeGcs, MotoS3, fake_gcs_server, moto_server


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcs]:
    with fake_gcs_server(tmp_path_factory.mktemp("gcs")) as server:
        yield server


def unique_bucket(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}"


def s3_client(moto: MotoS3) -> Any:
    import boto3

    from .servers import S3_ENV

    return boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name=S3_ENV["AWS_REGION"],
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def s3_bucket(moto: MotoS3) -> str:
    bucket = unique_bucket("beacon")
    s3_client(moto).create_bucket(Bucket=bucket)
    return bucket


def gcs_call(
    gcs: FakeGcs, method: str, path: str, body: bytes | None = None, *, raw: bool = False
) -> Any:
    import json
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{gcs.url}{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"} if body else {},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        data = response.read()
    return data if raw else json.loads(data)


@pytest.fixture
def gcs_bucket(fake_gcs: FakeGcs) -> str:
    import json

    bucket = unique_bucket("beacon")
    gcs_call(fake_gcs, "POST", "/storage/v1/b", json.dumps({"name": bucket}).encode())
    return bucket


def gcs_object(gcs: FakeGcs, bucket: str, key: str) -> tuple[dict[str, Any], bytes]:
    from urllib.parse import quote

    meta = gcs_call(gcs, "GET", f"/storage/v1/b/{bucket}/o/{quote(key, safe='')}")
    data = gcs_call(
        gcs, "GET", f"/storage/v1/b/{bucket}/o/{quote(key, safe='')}?alt=media", raw=True
    )
    return meta, data


@pytest.fixture
async def proxy() -> AsyncIterator[Any]:
    """A fault-injecting HTTP proxy in front of a store (see FaultProxy)."""
    from .faults import FaultProxy

    proxies: list[FaultProxy] = []

    async def make(upstream: str) -> FaultProxy:
        fault_proxy = FaultProxy(upstream)
        await fault_proxy.start()
        proxies.append(fault_proxy)
        return fault_proxy

    yield make
    for fault_proxy in proxies:
        await fault_proxy.stop()
    await asyncio.sleep(0)
