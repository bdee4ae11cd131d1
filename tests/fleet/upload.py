"""Upload a generated fleet with beacon's own uploader (the export stage), run by run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from beacon.exports.settings import build_export_settings
from beacon.exports.stage import export_data, plan_exports, upload_result
from beacon.paths import ArtifactPaths


def run_environ(log: Path) -> dict[str, str]:
    """The CI variables of the job that wrote ``log`` (taken from its own lines)."""
    first = json.loads(log.read_bytes().splitlines()[0])
    run = first["run"]
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": run["repository"],
        "GITHUB_RUN_ID": run["run_id"],
        "GITHUB_RUN_ATTEMPT": run["run_attempt"],
        "GITHUB_JOB": run["job"],
        "GITHUB_WORKFLOW": run["workflow"],
    }


def upload_fleet(root: Path, destination: str, layout: str, store_env: Mapping[str, str]) -> int:
    """Upload every run under ``root`` to ``destination``; returns the objects written."""
    written = 0
    for log in sorted(root.rglob("runtime.jsonl")):
        session = json.loads(log.read_bytes().splitlines()[0])["beacon"]["session_id"]
        environ = {**store_env, **run_environ(log)}
        settings = build_export_settings(
            upload=[destination], layout=layout, key_template=None, gzip=False, required=True,
            sse=None, sse_kms_key_id=None, forward=[], forward_endpoint=None,
            forward_protocol=None, forward_header=[], environ=environ,
        )  # fmt: skip
        paths = ArtifactPaths.create(log.parent, log)
        plan = plan_exports(paths=paths, session_id=session, settings=settings, environ=environ)
        uploads, _ = export_data(plan, redactor=None, original={})
        if paths.result_path.is_file():
            uploads += upload_result(plan, paths.result_path.read_bytes())
        assert all(entry["status"] == "ok" for entry in uploads), uploads
        written += len(uploads)
    return written
