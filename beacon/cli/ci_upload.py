"""``beacon ci upload``: upload a finished run's log lines, report and result.json."""

from __future__ import annotations

from typing import Annotated

import typer

from beacon.cli import options as o
from beacon.cli.app import ci_app

SessionId = Annotated[
    str | None,
    typer.Option("--session-id", help="The run to upload (default: the one in result.json)."),
]


@ci_app.command("upload")
def upload_command(
    base_dir: o.BaseDir = None,
    log_path: o.LogPath = None,
    session_id: SessionId = None,
    upload: o.Upload = None,
    upload_layout: o.UploadLayout = None,
    upload_key: o.UploadKey = None,
    upload_gzip: o.UploadGzip = False,
    upload_required: o.UploadRequired = None,
    upload_sse: o.UploadSse = None,
    upload_sse_kms_key_id: o.UploadSseKmsKeyId = None,
    json_output: o.JsonOutput = False,
    quiet: o.Quiet = False,
) -> None:
    """Upload a finished run (its runtime.jsonl lines and result.json) to S3 or GCS."""
    from beacon.cli.argv import UploadArgs, args_from_parameters
    from beacon.cli.session_flow import run_upload

    args = args_from_parameters(UploadArgs, dict(locals()))
    raise typer.Exit(run_upload(args))
