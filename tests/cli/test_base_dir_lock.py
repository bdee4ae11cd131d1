"""The base dir's lock: one `session start` or `ci exec` decides at a time, bounded."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from beacon.errors import ExitCode, StartupError
from beacon.paths import ArtifactPaths
from beacon.run.lock import BaseDirLock


def paths_in(tmp_path: Path) -> ArtifactPaths:
    paths = ArtifactPaths.create(tmp_path / "beacon")
    paths.ensure_dirs()
    return paths


def test_a_held_lock_makes_the_next_one_wait_then_fail_with_a_clear_error(
    tmp_path: Path,
) -> None:
    paths = paths_in(tmp_path)
    with BaseDirLock.acquire(paths) as held:
        assert held.held
        began = time.monotonic()
        with pytest.raises(StartupError) as refused:
            BaseDirLock.acquire(paths, timeout_s=0.2)
        assert time.monotonic() - began >= 0.2
        assert refused.value.exit_code == ExitCode.BEACON_FAILED
        assert str(paths.base_dir) in str(refused.value)
        assert "--base-dir" in (refused.value.hint or "")
    assert not held.held
    # Released: the next one gets it at once, and releasing twice is harmless.
    again = BaseDirLock.acquire(paths, timeout_s=0)
    again.release()
    again.release()


def test_the_lock_file_is_private_and_never_inherited(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    lock = BaseDirLock.acquire(paths)
    try:
        assert stat.S_IMODE(paths.lock_path.stat().st_mode) == 0o600
        fd = lock._fd
        assert fd is not None and not os.get_inheritable(fd)
    finally:
        lock.release()


def test_an_unwritable_base_dir_is_a_startup_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StartupError) as failed:
        BaseDirLock.acquire(ArtifactPaths.create(blocker), timeout_s=0)
    assert str(blocker / "beacon.lock") in str(failed.value)
