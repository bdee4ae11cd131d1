"""The export stage of ``finish_run``: this run's objects to every store, records to forwards.

Order: forwards (they read the spool, still present), then the runtime lines and
the report files to every upload target; ``result.json`` is uploaded last by
:func:`upload_result`, after the caller has written it with the other outcomes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip as gzip_module
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from beacon.exports.keys import KeyContext, object_key
from beacon.exports.objects import JSON, NDJSON, UploadObject
from beacon.exports.settings import ExportSettings, UploadTarget
from beacon.paths import ArtifactPaths

REPORT_FILES = {
    "report.json": JSON,
    "report.md": "text/markdown; charset=utf-8",
    "report.html": "text/html; charset=utf-8",
}


@dataclass(frozen=True)
class ExportPlan:
    """Everything fixed once per run: where each file of this run goes."""

    paths: ArtifactPaths
    session_id: str
    settings: ExportSettings
    environ: Mapping[str, str]
    run: Mapping[str, object]
    date: str
    withheld: frozenset[str] = frozenset()
    """Attribute names forwards drop (``--no-prompts``, ``--no-tool-details``)."""

    def key(self, target: UploadTarget, file: str) -> str:
        ctx = KeyContext.from_run(
            prefix=target.prefix, run=self.run, session_id=self.session_id, date=self.date
        )
        return object_key(
            ctx, file, layout=self.settings.layout, template=self.settings.key_template
        )


def plan_exports(
    *,
    paths: ArtifactPaths,
    session_id: str,
    settings: ExportSettings,
    environ: Mapping[str, str],
    now: dt.datetime | None = None,
    withheld: frozenset[str] = frozenset(),
) -> ExportPlan:
    from beacon.ci.providers import run_context

    moment = now or dt.datetime.now(dt.UTC)
    return ExportPlan(
        paths=paths,
        session_id=session_id,
        settings=settings,
        environ=environ,
        run=run_context(environ),
        date=moment.strftime("%Y-%m-%d"),
        withheld=withheld,
    )


def run_lines(log_path: Path, session_id: str) -> list[bytes]:
    """This run's lines of a (possibly shared) runtime.jsonl, selected by ``beacon.session_id``."""
    needle = session_id.encode()
    selected: list[bytes] = []
    try:
        handle = log_path.open("rb")
    except FileNotFoundError:
        return selected
    with handle:
        for line in handle:
            if needle not in line or not line.endswith(b"\n"):
                continue
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            beacon = parsed.get("beacon") if isinstance(parsed, dict) else None
            if isinstance(beacon, dict) and beacon.get("session_id") == session_id:
                selected.append(line)
    return selected


def data_objects(
    plan: ExportPlan, target: UploadTarget, lines: Sequence[bytes]
) -> list[UploadObject]:
    """The runtime lines (gzip when asked) and whichever report files exist."""
    body = b"".join(lines)
    if plan.settings.gzip:
        log = UploadObject(
            plan.key(target, "runtime.jsonl.gz"),
            gzip_module.compress(body, mtime=0),
            NDJSON,
            content_encoding="gzip",
        )
    else:
        log = UploadObject(plan.key(target, "runtime.jsonl"), body, NDJSON)
    objects = [log]
    for name, content_type in REPORT_FILES.items():
        path = plan.paths.result_path.with_name(name)
        if path.is_file():
            objects.append(UploadObject(plan.key(target, name), path.read_bytes(), content_type))
    return objects


async def _upload(
    target: UploadTarget, objects: Sequence[UploadObject], plan: ExportPlan
) -> list[dict[str, Any]]:
    # Imported here, by scheme: an S3-only job never loads gcloud-aio-storage.
    module = importlib.import_module(f"beacon.exports.{target.store}")
    records: list[dict[str, Any]] = await module.upload(
        target, objects, plan.settings, plan.environ
    )
    return records


async def _forward(
    plan: ExportPlan,
    target: Any,
    lines: Sequence[bytes],
    redactor: Any,
    original: Mapping[str, str],
) -> dict[str, Any]:
    deadline = plan.settings.retry_deadline_s
    if target.kind in ("splunk", "falcon"):
        from beacon.exports import hec

        return await hec.forward(target, lines=lines, environ=plan.environ, deadline_s=deadline)
    if not plan.paths.spool_path.exists():
        return {
            "kind": target.kind,
            "endpoint": target.endpoint or None,
            "status": "failed",
            "error": f"the spool {plan.paths.spool_path} is gone: nothing to forward",
        }
    from beacon.exports import otlp

    return await otlp.forward(
        target,
        spool_path=plan.paths.spool_path,
        redactor=redactor,
        original=original,
        deadline_s=deadline,
        withheld=plan.withheld,
    )


async def _export_data(
    plan: ExportPlan, *, redactor: Any, original: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    lines = run_lines(plan.paths.log_path, plan.session_id)
    forwards: list[dict[str, Any]] = []
    for target in plan.settings.forwards:
        try:
            forwards.append(await _forward(plan, target, lines, redactor, original))
        except Exception as exc:  # one destination's surprise never hides the others
            forwards.append(
                {
                    "kind": target.kind,
                    "endpoint": target.endpoint or None,
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )

    async def upload_target(target: UploadTarget) -> list[dict[str, Any]]:
        try:
            return await _upload(target, data_objects(plan, target, lines), plan)
        except Exception as exc:
            return [unexpected_failure(target, exc)]

    uploads: list[dict[str, Any]] = []
    for records in await asyncio.gather(*(upload_target(t) for t in plan.settings.uploads)):
        uploads.extend(records)
    return uploads, forwards


def export_data(
    plan: ExportPlan, *, redactor: Any, original: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Forwards, then the data objects to every store: (uploads, forwards) for result.json."""
    return asyncio.run(_export_data(plan, redactor=redactor, original=original))


def upload_result(plan: ExportPlan, result_bytes: bytes) -> list[dict[str, Any]]:
    """``result.json``, last: it lists every other object."""

    async def one(target: UploadTarget) -> list[dict[str, Any]]:
        obj = UploadObject(plan.key(target, "result.json"), result_bytes, JSON)
        try:
            return await _upload(target, [obj], plan)
        except Exception as exc:
            return [unexpected_failure(target, exc)]

    async def run() -> list[dict[str, Any]]:
        batches = await asyncio.gather(*(one(t) for t in plan.settings.uploads))
        return [record for batch in batches for record in batch]

    return asyncio.run(run()) if plan.settings.uploads else []


def failed(entries: Sequence[Mapping[str, Any]]) -> bool:
    return any(entry.get("status") not in ("ok", "skipped") for entry in entries)


def unexpected_failure(target: UploadTarget, exc: BaseException) -> dict[str, Any]:
    """An entry for a failure beacon did not foresee (it is reported, never raised)."""
    return {
        "destination": target.destination,
        "bucket": target.bucket,
        "key": None,
        "bytes": 0,
        "sha256": None,
        "status": "failed",
        "error": f"{type(exc).__name__}: {exc}",
    }
