"""Fetch a prefix's runtime logs and result.json files into the local cache.

One cache file per object, ``<cache>/<scheme>/<bucket>/<key>``, with the object's
ETag beside it (``<file>.etag``): an object whose ETag is unchanged is not
downloaded again. Downloads go to a temporary name and are renamed into place, so
an interrupted fetch never leaves half an object that a later run would trust.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from beacon.fleet.errors import FleetAccessError
from beacon.fleet.source import FleetFiles, Source, classify, is_fleet_object

CONCURRENCY = 16
REQUEST_TIMEOUT_S = 60.0


def cache_path(cache_dir: Path, source: Source, key: str) -> Path:
    safe = [part for part in key.split("/") if part not in ("", ".", "..")]
    return cache_dir.joinpath(source.scheme, source.bucket, *safe)


def cached(path: Path, etag: str) -> bool:
    marker = path.with_name(path.name + ".etag")
    try:
        return path.is_file() and marker.read_text("utf-8") == etag
    except OSError:
        return False


def store(path: Path, etag: str, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    temporary.write_bytes(body)
    temporary.replace(path)
    path.with_name(path.name + ".etag").write_text(etag, "utf-8")


async def fetch_all(
    source: Source,
    cache_dir: Path,
    listing: list[tuple[str, str]],
    download: Callable[[str], Awaitable[bytes]],
) -> FleetFiles:
    """Download what the cache lacks, ``CONCURRENCY`` objects at a time."""
    files = FleetFiles()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(key: str, etag: str) -> None:
        path = cache_path(cache_dir, source, key)
        if not cached(path, etag):
            async with gate:
                body = await asyncio.wait_for(download(key), REQUEST_TIMEOUT_S)
            await asyncio.to_thread(store, path, etag, body)
        classify(files, path, f"{source.scheme}://{source.bucket}/{key}")

    await asyncio.gather(*(one(key, etag) for key, etag in listing))
    files.logs.sort()
    files.results.sort()
    return files


async def fetch_prefix(
    source: Source, *, cache_dir: Path, environ: Mapping[str, str]
) -> FleetFiles:
    if source.scheme == "s3":
        return await _fetch_s3(source, cache_dir, environ)
    return await _fetch_gcs(source, cache_dir, environ)


def s3_endpoint(environ: Mapping[str, str]) -> str | None:
    for name in ("BEACON_CI_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        if environ.get(name):
            return environ[name]
    return None


def _missing_extra(extra: str, module: str) -> FleetAccessError:
    return FleetAccessError(
        f"reading this source needs {module}, which is not installed",
        hint=f"pip install 'beacon-ci[{extra}]'",
    )


async def _fetch_s3(source: Source, cache_dir: Path, environ: Mapping[str, str]) -> FleetFiles:
    try:
        from aiobotocore.session import get_session
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    except ImportError as exc:
        raise _missing_extra("s3", "aiobotocore") from exc

    endpoint = s3_endpoint(environ)
    config = Config(
        s3={"addressing_style": "path"} if endpoint else {},
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=10,
        read_timeout=REQUEST_TIMEOUT_S,
    )
    where = source.url
    try:
        async with get_session().create_client("s3", endpoint_url=endpoint, config=config) as s3:
            listing: list[tuple[str, str]] = []
            paginator = s3.get_paginator("list_objects_v2")
            prefix = f"{source.prefix}/" if source.prefix else ""
            async for page in paginator.paginate(Bucket=source.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if is_fleet_object(item["Key"]):
                        listing.append((item["Key"], str(item.get("ETag", ""))))

            async def download(key: str) -> bytes:
                response = await s3.get_object(Bucket=source.bucket, Key=key)
                async with response["Body"] as body:
                    data: bytes = await body.read()
                return data

            return await fetch_all(source, cache_dir, listing, download)
    except NoCredentialsError as exc:
        raise FleetAccessError(
            f"no AWS credentials to read {where}",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or web identity",
        ) from exc
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            raise FleetAccessError(
                f"bucket {source.bucket!r} does not exist ({where})",
                hint="check the bucket name and the endpoint",
            ) from exc
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise FleetAccessError(
                f"access denied reading {where} ({code})",
                hint="the credentials need s3:ListBucket and s3:GetObject on the prefix",
            ) from exc
        raise FleetAccessError(f"cannot read {where}: {exc}") from exc
    except (TimeoutError, BotoCoreError, OSError) as exc:
        raise FleetAccessError(
            f"cannot reach the store for {where}: {exc}",
            hint="check the network and BEACON_CI_S3_ENDPOINT_URL / AWS_ENDPOINT_URL",
        ) from exc


async def _fetch_gcs(source: Source, cache_dir: Path, environ: Mapping[str, str]) -> FleetFiles:
    try:
        import aiohttp
        from gcloud.aio.storage import Storage
    except ImportError as exc:
        raise _missing_extra("gcs", "gcloud-aio-storage") from exc

    where = source.url
    try:
        async with Storage() as storage:
            listing: list[tuple[str, str]] = []
            params: dict[str, Any] = {"prefix": f"{source.prefix}/" if source.prefix else ""}
            while True:
                page = await asyncio.wait_for(
                    storage.list_objects(source.bucket, params=params), REQUEST_TIMEOUT_S
                )
                for item in page.get("items", []):
                    if is_fleet_object(item["name"]):
                        tag = item.get("etag") or item.get("md5Hash") or item.get("generation", "")
                        listing.append((item["name"], str(tag)))
                token = page.get("nextPageToken")
                if not token:
                    break
                params["pageToken"] = token

            async def download(key: str) -> bytes:
                data: bytes = await storage.download(source.bucket, key)
                return data

            return await fetch_all(source, cache_dir, listing, download)
    except aiohttp.ClientResponseError as exc:
        if exc.status == 404:
            raise FleetAccessError(
                f"bucket {source.bucket!r} does not exist ({where})",
                hint="check the bucket name (and STORAGE_EMULATOR_HOST for an emulator)",
            ) from exc
        if exc.status in (401, 403):
            raise FleetAccessError(
                f"access denied reading {where} ({exc.status})",
                hint="the credentials need storage.objects.list and storage.objects.get",
            ) from exc
        raise FleetAccessError(f"cannot read {where}: {exc}") from exc
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise FleetAccessError(
            f"cannot reach the store for {where}: {exc}",
            hint="check the network and STORAGE_EMULATOR_HOST",
        ) from exc
    except Exception as exc:
        # gcloud-aio-auth raises plain exceptions when no credentials can be found.
        if "credentials" in str(exc).lower() or "GOOGLE_APPLICATION_CREDENTIALS" in str(exc):
            raise FleetAccessError(
                f"no Google credentials to read {where}",
                hint="set GOOGLE_APPLICATION_CREDENTIALS or use workload identity",
            ) from exc
        raise


def trim_cache(cache_dir: Path, *, keep: set[Path], max_bytes: int) -> None:
    """Remove the least recently used cached objects beyond ``max_bytes`` (never ``keep``)."""
    if not cache_dir.is_dir():
        return
    entries: list[tuple[float, int, Path]] = []
    total = 0
    for dirpath, _dirs, names in os.walk(cache_dir):
        for name in names:
            path = Path(dirpath) / name
            if name.endswith(".etag"):
                continue
            with contextlib.suppress(OSError):
                info = path.stat()
                total += info.st_size
                if path not in keep:
                    entries.append((info.st_mtime, info.st_size, path))
    for _mtime, size, path in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            path.with_name(path.name + ".etag").unlink()
        total -= size
