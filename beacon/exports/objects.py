"""What an upload sends and what it reports (no SDK imports here)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

NDJSON = "application/x-ndjson"
JSON = "application/json"


@dataclass(frozen=True)
class UploadObject:
    """One object to write: its key, bytes and HTTP metadata."""

    key: str
    data: bytes
    content_type: str
    content_encoding: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class ExportFailure(Exception):
    """One destination failed; the message names the cause and the fix."""

    def __init__(self, cause: str, fix: str | None = None, *, retryable: bool = False) -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix
        self.retryable = retryable

    def describe(self) -> str:
        return self.cause + (f"; fix: {self.fix}" if self.fix else "")


def upload_record(
    destination: str, bucket: str, obj: UploadObject, error: ExportFailure | None
) -> dict[str, Any]:
    """One ``result.json`` ``uploads`` entry."""
    return {
        "destination": destination,
        "bucket": bucket,
        "key": obj.key,
        "bytes": len(obj.data),
        "sha256": obj.sha256,
        "status": "failed" if error else "ok",
        "error": error.describe() if error else None,
    }
