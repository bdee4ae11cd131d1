"""Where beacon's artifacts live: ``$RUNNER_TEMP/beacon``, else ``<system temp>/beacon``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from beacon.errors import StartupError

DIR_MODE = 0o700
FILE_MODE = 0o600


def default_base_dir(environ: Mapping[str, str]) -> Path:
    runner_temp = environ.get("RUNNER_TEMP")
    root = Path(runner_temp) if runner_temp else Path(tempfile.gettempdir())
    return root / "beacon"


@dataclass(frozen=True)
class ArtifactPaths:
    """Every file beacon writes in one base dir."""

    base_dir: Path
    log_path: Path

    @classmethod
    def create(cls, base_dir: Path, log_path: Path | None = None) -> ArtifactPaths:
        return cls(base_dir=base_dir, log_path=log_path or base_dir / "runtime.jsonl")

    @property
    def spool_dir(self) -> Path:
        return self.base_dir / "spool"

    @property
    def spool_path(self) -> Path:
        return self.spool_dir / "otlp.jsonl"

    @property
    def otelcol_path(self) -> Path:
        return self.base_dir / "otelcol.yaml"

    @property
    def state_path(self) -> Path:
        return self.base_dir / "session.json"

    @property
    def env_path(self) -> Path:
        return self.base_dir / "session.env"

    @property
    def result_path(self) -> Path:
        return self.base_dir / "result.json"

    @property
    def lock_path(self) -> Path:
        """``session start`` and ``ci exec`` decide who owns the base dir under its lock."""
        return self.base_dir / "beacon.lock"

    @property
    def daemon_log_path(self) -> Path:
        return self.base_dir / "daemon.log"

    @property
    def report_json_path(self) -> Path:
        return self.base_dir / "report.json"

    @property
    def report_markdown_path(self) -> Path:
        return self.base_dir / "report.md"

    @property
    def report_html_path(self) -> Path:
        return self.base_dir / "report.html"

    def ensure_dirs(self) -> None:
        """Create the base and spool dirs with mode 0700 (tightening existing ones)."""
        for directory in (self.base_dir, self.spool_dir):
            try:
                directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                directory.chmod(DIR_MODE)
            except OSError as exc:
                raise StartupError(
                    f"cannot use base dir {directory}: {exc.strerror}",
                    hint="pass --base-dir with a writable directory",
                ) from exc

    def check_writable(self) -> None:
        """Prove, before any child runs, that the base dir and the log can be written.

        Creates the dirs (``ensure_dirs``), writes and removes a probe file in
        the base dir, and opens the log for appending (removing it again if
        the probe created it). Found after the agent ran, an unwritable log
        costs the whole run.
        """
        self.ensure_dirs()
        probe = self.base_dir / f".beacon-probe-{os.getpid()}"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            probe.unlink()
        except OSError as exc:
            raise StartupError(
                f"cannot write in base dir {self.base_dir}: {exc.strerror}",
                hint="pass --base-dir with a writable directory",
            ) from exc
        log = self.log_path
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            existed = log.exists()
            os.close(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE))
        except OSError as exc:
            raise StartupError(
                f"cannot write the runtime log {log}: {exc.strerror or exc}",
                hint="pass --log-path with a writable file (or a writable --base-dir)",
            ) from exc
        if not existed:
            with contextlib.suppress(OSError):
                log.unlink()


def write_private(path: Path, text: str) -> None:
    """Write a 0600 file atomically (readers never see half of it)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        temporary.chmod(FILE_MODE)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
