"""Upload to S3 or an S3-compatible store with aiobotocore (imported only when asked for)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

try:
    from aiobotocore.session import get_session
    from botocore.config import Config
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    from beacon.exports.errors import missing_extra

    raise missing_extra("s3", "aiobotocore") from exc

import contextlib

from beacon.exports.objects import ExportFailure, UploadObject, upload_record
from beacon.exports.retry import with_retries
from beacon.exports.settings import ExportSettings, UploadTarget

ENDPOINT_ENVS = ("BEACON_CI_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
_RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
        "502",
        "504",
    }
)
_REJECTED_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
)
CREDENTIALS_FIX = (
    "add aws-actions/configure-aws-credentials (OIDC: role-to-assume) before this step, "
    "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def endpoint_url(environ: Mapping[str, str]) -> str | None:
    for name in ENDPOINT_ENVS:
        if environ.get(name):
            return environ[name]
    return None


def classify(exc: BaseException, target: UploadTarget, key: str) -> ExportFailure:
    """A botocore/aiohttp error as a failure naming its cause and fix."""
    where = f"s3://{target.bucket}/{key}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ExportFailure(f"{where}: no AWS credentials found", CREDENTIALS_FIX)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = error.get("Message") or code
        if code == "NoSuchBucket":
            return ExportFailure(
                f"{where}: bucket {target.bucket!r} does not exist",
                "create the bucket or fix BEACON_CI_S3_BUCKET / the --upload s3://BUCKET URL",
            )
        if code in _REJECTED_CREDENTIALS:
            return ExportFailure(f"{where}: AWS rejected the credentials ({code})", CREDENTIALS_FIX)
        if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
            return ExportFailure(
                f"{where}: access denied ({message})",
                f"grant s3:PutObject and s3:AbortMultipartUpload on "
                f"arn:aws:s3:::{target.bucket}/{target.prefix or ''}* to the job's role",
            )
        if code in _RETRYABLE_CODES or status >= 500 or status == 429:
            return ExportFailure(f"{where}: {code or status} ({message})", retryable=True)
        return ExportFailure(f"{where}: {code or status}: {message}")
    if isinstance(exc, BotoConnectionError | OSError | asyncio.TimeoutError):
        return ExportFailure(f"{where}: connection failed: {exc}", retryable=True)
    if isinstance(exc, BotoCoreError):
        return ExportFailure(f"{where}: {exc}")
    import aiohttp

    if isinstance(exc, aiohttp.ClientError):
        return ExportFailure(f"{where}: connection failed: {exc}", retryable=True)
    raise exc


def _client_kwargs(environ: Mapping[str, str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "region_name": environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
        "config": Config(
            # beacon retries itself (bounded in time, conditional create kept).
            retries={"total_max_attempts": 1},
            connect_timeout=10,
            read_timeout=60,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"} if endpoint_url(environ) else {},
        ),
    }
    endpoint = endpoint_url(environ)
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        kwargs["aws_access_key_id"] = environ["AWS_ACCESS_KEY_ID"]
        kwargs["aws_secret_access_key"] = environ["AWS_SECRET_ACCESS_KEY"]
        if environ.get("AWS_SESSION_TOKEN"):
            kwargs["aws_session_token"] = environ["AWS_SESSION_TOKEN"]
    if kwargs["region_name"] is None and endpoint:
        kwargs["region_name"] = "us-east-1"
    return kwargs


class S3Uploader:
    """Writes objects into one bucket; every write is a conditional create."""

    def __init__(self, client: Any, target: UploadTarget, settings: ExportSettings) -> None:
        self.client = client
        self.target = target
        self.settings = settings

    def _extra(self, obj: UploadObject) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "ContentType": obj.content_type,
            "Metadata": {"sha256": obj.sha256},
        }
        if obj.content_encoding:
            extra["ContentEncoding"] = obj.content_encoding
        if self.settings.sse:
            extra["ServerSideEncryption"] = self.settings.sse
        if self.settings.sse_kms_key_id:
            extra["SSEKMSKeyId"] = self.settings.sse_kms_key_id
        return extra

    async def _call(self, obj: UploadObject, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self.client, method)(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise _Exists from exc
            raise classify(exc, self.target, obj.key) from exc
        except Exception as exc:
            raise classify(exc, self.target, obj.key) from exc

    async def put(self, obj: UploadObject) -> None:
        try:
            if len(obj.data) > self.settings.multipart_threshold:
                await self._multipart(obj)
            else:
                await with_retries(
                    lambda: self._call(
                        obj,
                        "put_object",
                        Bucket=self.target.bucket,
                        Key=obj.key,
                        Body=obj.data,
                        ChecksumSHA256=_sha256_b64(obj.data),
                        IfNoneMatch="*",
                        **self._extra(obj),
                    ),
                    deadline_s=self.settings.retry_deadline_s,
                )
        except _Exists:
            await self._check_existing(obj)

    async def _check_existing(self, obj: UploadObject) -> None:
        """The key exists: fine if it holds these bytes (an earlier attempt), else an error."""
        head = await self._call(obj, "head_object", Bucket=self.target.bucket, Key=obj.key)
        if head.get("Metadata", {}).get("sha256") == obj.sha256:
            return
        raise ExportFailure(
            f"s3://{self.target.bucket}/{obj.key}: a different object already exists at this key",
            "beacon never overwrites: use a new prefix or --upload-key, or delete the object",
        )

    async def _multipart(self, obj: UploadObject) -> None:
        bucket, key = self.target.bucket, obj.key
        deadline = self.settings.retry_deadline_s
        created = await with_retries(
            lambda: self._call(
                obj,
                "create_multipart_upload",
                Bucket=bucket,
                Key=key,
                ChecksumAlgorithm="SHA256",
                **self._extra(obj),
            ),
            deadline_s=deadline,
        )
        upload_id = created["UploadId"]
        size = self.settings.part_size
        gate = asyncio.Semaphore(self.settings.max_concurrency)

        async def part(number: int, start: int) -> dict[str, Any]:
            body = obj.data[start : start + size]
            checksum = _sha256_b64(body)
            async with gate:
                answer = await with_retries(
                    lambda: self._call(
                        obj,
                        "upload_part",
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=body,
                        ChecksumSHA256=checksum,
                    ),
                    deadline_s=deadline,
                )
            return {"ETag": answer["ETag"], "PartNumber": number, "ChecksumSHA256": checksum}

        try:
            tasks = [
                asyncio.ensure_future(part(n, start))
                for n, start in enumerate(range(0, len(obj.data), size), start=1)
            ]
            try:
                parts = await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            await with_retries(
                lambda: self._call(
                    obj,
                    "complete_multipart_upload",
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": list(parts)},
                    IfNoneMatch="*",
                ),
                deadline_s=deadline,
            )
        except BaseException:
            # No orphaned parts: they would be billed until a lifecycle rule removes them.
            await self._abort(obj, upload_id)
            raise

    async def _abort(self, obj: UploadObject, upload_id: str) -> None:
        with contextlib.suppress(ExportFailure, _Exists):
            await with_retries(
                lambda: self._call(
                    obj,
                    "abort_multipart_upload",
                    Bucket=self.target.bucket,
                    Key=obj.key,
                    UploadId=upload_id,
                ),
                deadline_s=min(self.settings.retry_deadline_s, 30.0),
            )


_SESSIONS: list[Any] = []


def _session() -> Any:
    """One botocore session per process: each new one loads the S3 model again (~0.3 s)."""
    if not _SESSIONS:
        _SESSIONS.append(get_session())
    return _SESSIONS[0]


class _Exists(Exception):
    """The conditional create found an object at the key."""


async def upload(
    target: UploadTarget,
    objects: Sequence[UploadObject],
    settings: ExportSettings,
    environ: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Upload ``objects`` in order; stops at the first failure (later ones are reported failed)."""
    records: list[dict[str, Any]] = []
    async with _session().create_client("s3", **_client_kwargs(environ)) as client:
        uploader = S3Uploader(client, target, settings)
        failure: ExportFailure | None = None
        for obj in objects:
            if failure is None:
                try:
                    await uploader.put(obj)
                except ExportFailure as exc:
                    failure = exc
                    records.append(upload_record(target.destination, target.bucket, obj, exc))
                    continue
                records.append(upload_record(target.destination, target.bucket, obj, None))
            else:
                skipped = ExportFailure(f"not uploaded: an earlier object failed ({failure.cause})")
                records.append(upload_record(target.destination, target.bucket, obj, skipped))
    return records
