"""Small filesystems for fault tests: a tmpfs of a few KiB (ENOSPC for real) or read-only.

Mounting needs root (CI containers run as root). Elsewhere ``full_disk`` is
None and the tests inject the failure instead; a read-only directory falls
back to mode 0500 (which binds anyone but root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount_tmpfs(target: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode == 0


def _unmount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30, check=False)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A directory on a 64 KiB tmpfs, or None where mounting is not allowed."""
    target = tmp_path / "small-fs"
    if not _mount_tmpfs(target, "size=64k,mode=0700"):
        yield None
        return
    try:
        yield target
    finally:
        _unmount(target)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody can create files in (a read-only tmpfs as root, else mode 0500)."""
    target = tmp_path / "read-only"
    if _mount_tmpfs(target, "ro,size=16k"):
        try:
            yield target
        finally:
            _unmount(target)
        return
    if os.geteuid() == 0:
        message = "root without mount(8): cannot make a directory read-only"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    target.mkdir()
    target.chmod(0o500)
    try:
        yield target
    finally:
        target.chmod(0o700)
