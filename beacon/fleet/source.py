"""Where a fleet's runs are: a local directory, ``s3://bucket/prefix`` or ``gs://bucket/prefix``.

Remote objects are fetched into a local cache (reused while the object's ETag is
unchanged, bounded in size) and queried there: DuckDB then reads plain local files,
with no extension to download at run time and the same credential chain as the
uploads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from beacon.errors import UsageError

SCHEMES = ("s3", "gs")
LOG_SUFFIXES = (".jsonl", ".jsonl.gz")
RESULT_NAME = "result.json"
DEFAULT_CACHE_MAX_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class Source:
    """A parsed ``--source``: ``scheme`` is ``file``, ``s3`` or ``gs``."""

    scheme: str
    bucket: str = ""
    prefix: str = ""
    path: Path | None = None

    @property
    def url(self) -> str:
        if self.path is not None:
            return str(self.path)
        return f"{self.scheme}://{self.bucket}/{self.prefix}".rstrip("/")


@dataclass
class FleetFiles:
    """The local copies of a fleet's objects, and where each came from."""

    logs: list[Path] = field(default_factory=list)
    results: list[Path] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)
    """local path -> object URL (for messages and the ``_object`` column)."""


def parse_source(text: str) -> Source:
    """``s3://b/p``, ``gs://b/p`` or a local directory; other schemes are a usage error."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        return Source(scheme="file", path=Path(text).expanduser())
    if scheme not in SCHEMES:
        raise UsageError(
            f"unknown --source scheme {scheme!r} in {text!r}",
            hint="use s3://bucket/prefix, gs://bucket/prefix or a local directory",
        )
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UsageError(f"--source {text!r} names no bucket", hint=f"{scheme}://bucket/prefix")
    return Source(scheme=scheme, bucket=bucket, prefix=prefix.strip("/"))


def is_fleet_object(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base == RESULT_NAME or base.endswith(LOG_SUFFIXES)


def classify(files: FleetFiles, local: Path, origin: str) -> None:
    if local.name == RESULT_NAME:
        files.results.append(local)
    else:
        files.logs.append(local)
    files.origin[str(local)] = origin


def local_files(root: Path) -> FleetFiles:
    """Every runtime log and result.json under ``root`` (a downloaded prefix or artifacts)."""
    from beacon.fleet.errors import FleetAccessError

    if not root.is_dir():
        raise FleetAccessError(
            f"--source {root} is not a directory",
            hint="give a downloaded prefix or artifacts directory, or s3:// / gs://",
        )
    files = FleetFiles()
    for dirpath, _dirs, names in os.walk(root):
        for name in sorted(names):
            if is_fleet_object(name):
                path = Path(dirpath) / name
                classify(files, path, str(path))
    files.logs.sort()
    files.results.sort()
    return files


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    configured = environ.get("BEACON_FLEET_CACHE")
    if configured:
        return Path(configured).expanduser()
    xdg = environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "beacon" / "fleet"


def collect(
    source: Source,
    *,
    cache_dir: Path,
    environ: Mapping[str, str],
    cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES,
) -> FleetFiles:
    """The fleet's files on local disk, fetching remote objects into ``cache_dir`` first."""
    if source.path is not None:
        return local_files(source.path)
    import asyncio

    from beacon.fleet.fetch import fetch_prefix

    files = asyncio.run(fetch_prefix(source, cache_dir=cache_dir, environ=environ))
    from beacon.fleet.fetch import trim_cache

    trim_cache(cache_dir, keep={Path(p) for p in files.origin}, max_bytes=cache_max_bytes)
    return files
