"""Which run a spool belongs to, and the spools dead runs left set aside.

A spool is raw and unredacted: it must be processed exactly once and then
deleted (or, when kept, never processed again). A spool left behind by a run
that died (a session daemon killed, a ``ci exec`` killed before its finish) is
renamed aside (``otlp.jsonl.<stamp>``) by the next collector that starts in
the base dir; :mod:`beacon.run.leftovers` then processes it under its own
session id; :mod:`beacon.run.ledger` records which runs are processed. Pure
file operations: no pipeline here.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from beacon.paths import ArtifactPaths

_SESSION_ATTRIBUTE = "beacon.session.id"
# beacon's collector.started record is a spool's first line: a few lines suffice.
_LINES_TO_READ = 16


def spool_session_id(spool: Path) -> str | None:
    """The session id of the beacon run that wrote ``spool`` (from its lifecycle records)."""
    try:
        with spool.open("rb") as handle:
            for _ in range(_LINES_TO_READ):
                line = handle.readline()
                if not line:
                    return None
                found = _lifecycle_session(line)
                if found is not None:
                    return found
    except OSError:
        return None
    return None


def _lifecycle_session(line: bytes) -> str | None:
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    for resource_logs in message.get("resourceLogs") or ():
        scopes = resource_logs.get("scopeLogs") or ()
        if not any((scope.get("scope") or {}).get("name") == "beacon" for scope in scopes):
            continue
        for attribute in (resource_logs.get("resource") or {}).get("attributes") or ():
            if attribute.get("key") == _SESSION_ATTRIBUTE:
                value = (attribute.get("value") or {}).get("stringValue")
                if isinstance(value, str) and value:
                    return value
    return None


def set_aside_spools(paths: ArtifactPaths) -> list[Path]:
    """Spools renamed aside (``otlp.jsonl.<stamp>``), oldest first."""
    prefix = paths.spool_path.name + "."
    try:
        found = [p for p in paths.spool_dir.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return []
    return sorted(found, key=lambda p: (_mtime(p), p.name))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def set_aside(spool: Path) -> Path:
    """Rename ``spool`` aside as the collector's writer does; returns the new path."""
    import time

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    candidate = spool.with_name(f"{spool.name}.{stamp}")
    n = 1
    while candidate.exists():
        candidate = spool.with_name(f"{spool.name}.{stamp}.{n}")
        n += 1
    spool.rename(candidate)
    return candidate
