"""What to upload and forward at the end of a run, parsed from flags and environment (pure).

Nothing here imports an SDK: ``ci exec`` checks the upload configuration before
the child runs, and only the uploaders import aiobotocore / gcloud-aio-storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from beacon.errors import UsageError

S3_BUCKET_ENV = "BEACON_CI_S3_BUCKET"
S3_PREFIX_ENV = "BEACON_CI_S3_PREFIX"
GCS_BUCKET_ENV = "BEACON_CI_GCS_BUCKET"
GCS_PREFIX_ENV = "BEACON_CI_GCS_PREFIX"
SPLUNK_TOKEN_ENV = "BEACON_CI_SPLUNK_HEC_TOKEN"  # noqa: S105 - a name, not a secret
FALCON_TOKEN_ENV = "BEACON_CI_FALCON_HEC_TOKEN"  # noqa: S105 - a name, not a secret

LAYOUTS = ("default", "hive")
FORWARD_KINDS = ("otlp", "original", "splunk", "falcon")
FORWARD_PROTOCOLS = ("grpc", "http/protobuf")
SSE_MODES = ("AES256", "aws:kms")

#: Removed from the child's environment when ``ci exec`` uploads or forwards:
#: the child (an AI agent) never needs the job's cloud credentials.
CREDENTIAL_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "GOOGLE_APPLICATION_CREDENTIALS",
    SPLUNK_TOKEN_ENV,
    FALCON_TOKEN_ENV,
)
CREDENTIAL_PREFIXES = ("CLOUDSDK_AUTH_", "ACTIONS_ID_TOKEN_REQUEST_")

_SCHEMES = {"s3": "s3", "gcs": "gcs", "gs": "gcs"}
_ENV = {"s3": (S3_BUCKET_ENV, S3_PREFIX_ENV), "gcs": (GCS_BUCKET_ENV, GCS_PREFIX_ENV)}


@dataclass(frozen=True)
class UploadTarget:
    """One store to upload to: ``s3`` or ``gcs``, a bucket and a key prefix."""

    store: str
    bucket: str
    prefix: str = ""

    @property
    def destination(self) -> str:
        scheme = "s3" if self.store == "s3" else "gs"
        return f"{scheme}://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


@dataclass(frozen=True)
class ForwardTarget:
    kind: str
    endpoint: str
    protocol: str = "http/protobuf"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExportSettings:
    """Uploads and forwards of one run; empty means "nothing leaves the runner"."""

    uploads: tuple[UploadTarget, ...] = ()
    forwards: tuple[ForwardTarget, ...] = ()
    layout: str = "default"
    key_template: str | None = None
    gzip: bool = False
    required: bool = True
    sse: str | None = None
    sse_kms_key_id: str | None = None
    multipart_threshold: int = 8 * 1024 * 1024
    part_size: int = 8 * 1024 * 1024
    max_concurrency: int = 4
    retry_deadline_s: float = 60.0
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.uploads or self.forwards)


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_upload(value: str, environ: Mapping[str, str]) -> UploadTarget:
    """``s3``, ``gcs``, ``s3://bucket/prefix`` or ``gs://bucket/prefix`` → a target.

    A store named without a bucket takes ``BEACON_CI_<STORE>_BUCKET``; none is a
    usage error, raised before the child runs.
    """
    scheme, sep, rest = value.partition("://")
    store = _SCHEMES.get(scheme.lower())
    if store is None:
        raise UsageError(
            f"unknown upload destination {value!r}",
            hint="use s3, gcs, s3://bucket/prefix or gs://bucket/prefix",
        )
    bucket_env, prefix_env = _ENV[store]
    if sep:
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UsageError(
                f"no bucket in --upload {value!r}", hint=f"use {scheme}://BUCKET/PREFIX"
            )
        return UploadTarget(store, bucket, prefix.strip("/"))
    bucket = (environ.get(bucket_env) or "").strip()
    if not bucket:
        raise UsageError(
            f"--upload {value}: no bucket configured",
            hint=f"set {bucket_env} or pass --upload {'s3' if store == 's3' else 'gs'}://BUCKET/PREFIX",
        )
    return UploadTarget(store, bucket, (environ.get(prefix_env) or "").strip().strip("/"))


def parse_header(value: str) -> tuple[str, str]:
    name, sep, header_value = value.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"invalid --forward-header {value!r}", hint="use NAME=VALUE")
    return name.strip(), header_value.strip()


def parse_forwards(
    kinds: Sequence[str],
    *,
    endpoint: str | None,
    protocol: str | None,
    headers: Sequence[str],
    original: Mapping[str, str] | None = None,
) -> tuple[ForwardTarget, ...]:
    targets: list[ForwardTarget] = []
    chosen_protocol = protocol or "http/protobuf"
    if chosen_protocol not in FORWARD_PROTOCOLS:
        raise UsageError(
            f"unknown --forward-protocol {chosen_protocol!r}", hint="use grpc or http/protobuf"
        )
    parsed_headers = tuple(parse_header(h) for h in headers)
    for kind in _split(kinds):
        kind = kind.lower()
        if kind not in FORWARD_KINDS:
            raise UsageError(
                f"unknown --forward {kind!r}", hint="use otlp, original, splunk or falcon"
            )
        if kind == "original":
            targets.append(ForwardTarget(kind, endpoint or "", chosen_protocol, parsed_headers))
            continue
        if not endpoint:
            raise UsageError(f"--forward {kind} needs --forward-endpoint URL")
        if not endpoint.startswith(("http://", "https://")):
            raise UsageError(
                f"invalid --forward-endpoint {endpoint!r}", hint="use http://HOST:PORT or https://"
            )
        targets.append(ForwardTarget(kind, endpoint, chosen_protocol, parsed_headers))
    return tuple(targets)


def check_forward_tokens(forwards: Sequence[ForwardTarget], environ: Mapping[str, str]) -> None:
    for target in forwards:
        name = {"splunk": SPLUNK_TOKEN_ENV, "falcon": FALCON_TOKEN_ENV}.get(target.kind)
        if name and not environ.get(name):
            raise UsageError(f"--forward {target.kind}: {name} is not set", hint=f"set {name}")


def build_export_settings(
    *,
    upload: Sequence[str],
    layout: str | None,
    key_template: str | None,
    gzip: bool,
    required: bool,
    sse: str | None,
    sse_kms_key_id: str | None,
    forward: Sequence[str],
    forward_endpoint: str | None,
    forward_protocol: str | None,
    forward_header: Sequence[str],
    environ: Mapping[str, str],
) -> ExportSettings:
    """Every check that can fail before the child runs (usage errors, exit 2)."""
    targets = tuple(parse_upload(v, environ) for v in _split(upload))
    check_extras(targets)
    chosen_layout = (layout or "default").lower()
    if chosen_layout not in LAYOUTS:
        raise UsageError(f"unknown --upload-layout {layout!r}", hint="use default or hive")
    if key_template is not None:
        from beacon.exports.keys import check_template

        check_template(key_template)
    if sse is not None and sse not in SSE_MODES:
        raise UsageError(f"unknown --upload-sse {sse!r}", hint="use AES256 or aws:kms")
    if sse_kms_key_id and sse != "aws:kms":
        raise UsageError("--upload-sse-kms-key-id needs --upload-sse aws:kms")
    forwards = parse_forwards(
        forward, endpoint=forward_endpoint, protocol=forward_protocol, headers=forward_header
    )
    check_forward_tokens(forwards, environ)
    return ExportSettings(
        uploads=targets,
        forwards=forwards,
        layout=chosen_layout,
        key_template=key_template,
        gzip=gzip,
        required=required,
        sse=sse,
        sse_kms_key_id=sse_kms_key_id,
    )


def check_extras(targets: Sequence[UploadTarget]) -> None:
    """The SDK of each store asked for is installed (found, not imported: that costs ~0.5 s)."""
    from importlib.util import find_spec

    for store, module in (("s3", "aiobotocore"), ("gcs", "gcloud.aio.storage")):
        if any(t.store == store for t in targets):
            try:
                found = find_spec(module) is not None
            except (ModuleNotFoundError, ValueError):  # ValueError: blocked in sys.modules
                found = False
            if not found:
                from beacon.exports.errors import missing_extra

                raise missing_extra(store, module.replace(".aio.", "-aio-").replace(".", "-"))


def without_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the job's minus cloud credentials and HEC tokens."""
    return {
        name: value
        for name, value in environ.items()
        if name not in CREDENTIAL_NAMES and not name.startswith(CREDENTIAL_PREFIXES)
    }
