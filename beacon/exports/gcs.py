"""Upload to Google Cloud Storage with gcloud-aio-storage (imported only when asked for)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import aiohttp
    from gcloud.aio.storage import Storage
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    from beacon.exports.errors import missing_extra

    raise missing_extra("gcs", "gcloud-aio-storage") from exc

from beacon.exports.objects import ExportFailure, UploadObject, upload_record
from beacon.exports.retry import RetryLater, with_retries
from beacon.exports.settings import ExportSettings, UploadTarget

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
CREDENTIALS_FIX = (
    "add google-github-actions/auth (workload_identity_provider + service_account) "
    "before this step, or set GOOGLE_APPLICATION_CREDENTIALS to a credentials file"
)


def emulator_root(environ: Mapping[str, str]) -> str | None:
    host = environ.get(EMULATOR_ENV)
    if not host:
        return None
    return host if host.startswith("http") else f"http://{host}"


def credentials_file(environ: Mapping[str, str]) -> str | None:
    """Application default credentials: the variable, else gcloud's well-known file."""
    explicit = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        return explicit
    config = environ.get("CLOUDSDK_CONFIG") or str(
        Path(environ.get("HOME", "~")) / ".config/gcloud"
    )
    well_known = Path(config).expanduser() / "application_default_credentials.json"
    return str(well_known) if well_known.is_file() else None


def classify(status: int, text: str, target: UploadTarget, key: str) -> ExportFailure:
    where = f"gs://{target.bucket}/{key}"
    if status == 404:
        return ExportFailure(
            f"{where}: bucket {target.bucket!r} does not exist",
            "create the bucket or fix BEACON_CI_GCS_BUCKET / the --upload gs://BUCKET URL",
        )
    if status in (401, 403):
        return ExportFailure(
            f"{where}: access denied (HTTP {status})",
            f"grant roles/storage.objectCreator on gs://{target.bucket} to the job's "
            "service account",
        )
    if status == 429 or status >= 500:
        return RetryLater(f"{where}: HTTP {status}")
    return ExportFailure(f"{where}: HTTP {status}: {text[:200]}")


class _Exists(Exception):
    pass


async def _put(
    storage: Storage, target: UploadTarget, obj: UploadObject, settings: ExportSettings
) -> None:
    resumable = len(obj.data) > settings.multipart_threshold
    # Object metadata, not request headers: a Content-Encoding header would say the
    # request body itself is compressed for transport.
    metadata: dict[str, Any] = {"metadata": {"sha256": obj.sha256}}
    if obj.content_encoding:
        metadata["contentEncoding"] = obj.content_encoding
    try:
        await storage.upload(
            target.bucket,
            obj.key,
            io.BytesIO(obj.data),
            # mimetypes does not know .jsonl: always explicit.
            content_type=obj.content_type,
            parameters={"ifGenerationMatch": "0"},
            metadata=metadata,
            force_resumable_upload=resumable,
            timeout=120,
        )
    except aiohttp.ClientResponseError as exc:
        if exc.status == 412:
            raise _Exists from exc
        raise classify(exc.status, exc.message, target, obj.key) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise RetryLater(f"gs://{target.bucket}/{obj.key}: connection failed: {exc}") from exc


async def _check_existing(storage: Storage, target: UploadTarget, obj: UploadObject) -> None:
    try:
        meta = await storage.download_metadata(target.bucket, obj.key)
    except aiohttp.ClientResponseError as exc:
        raise classify(exc.status, exc.message, target, obj.key) from exc
    if (meta.get("metadata") or {}).get("sha256") == obj.sha256:
        return
    import base64
    import hashlib

    # Resumable uploads carry no custom metadata here: compare the content's MD5.
    md5 = base64.b64encode(hashlib.md5(obj.data, usedforsecurity=False).digest()).decode()
    if meta.get("md5Hash") == md5:
        return
    raise ExportFailure(
        f"gs://{target.bucket}/{obj.key}: a different object already exists at this key",
        "beacon never overwrites: use a new prefix or --upload-key, or delete the object",
    )


async def upload(
    target: UploadTarget,
    objects: Sequence[UploadObject],
    settings: ExportSettings,
    environ: Mapping[str, str],
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    root = emulator_root(environ)
    failure: ExportFailure | None = None
    if root is None and credentials_file(environ) is None and not environ.get("GCE_METADATA_HOST"):
        failure = ExportFailure(
            f"gs://{target.bucket}: no Google credentials found", CREDENTIALS_FIX
        )
    async with aiohttp.ClientSession() as session:
        storage = Storage(
            session=session,  # type: ignore[arg-type,unused-ignore]
            api_root=root,
            api_is_dev=True if root else None,
            service_file=None if root else credentials_file(environ),
        )
        for obj in objects:
            if failure is not None:
                records.append(upload_record(target.destination, target.bucket, obj, failure))
                continue
            try:
                try:
                    await with_retries(
                        lambda obj=obj: _put(storage, target, obj, settings),  # type: ignore[misc]
                        deadline_s=settings.retry_deadline_s,
                    )
                except _Exists:
                    await _check_existing(storage, target, obj)
            except ExportFailure as exc:
                failure = exc
                records.append(upload_record(target.destination, target.bucket, obj, exc))
                continue
            except Exception as exc:  # a credentials file gcloud-aio-auth cannot use
                failure = ExportFailure(
                    f"gs://{target.bucket}/{obj.key}: {type(exc).__name__}: {exc}", CREDENTIALS_FIX
                )
                records.append(upload_record(target.destination, target.bucket, obj, failure))
                continue
            records.append(upload_record(target.destination, target.bucket, obj, None))
    return records
