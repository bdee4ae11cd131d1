"""One owner at a time for a base dir: ``session start`` and ``ci exec`` decide under a lock.

Both look for a live run in the base dir (``session.json``, ``exec.json``), then
start a collector there and record it. Without a lock, two of them started
together both find the dir free: four concurrent ``session start``\\s spawned
four daemons on one spool path, each renaming the previous one's file aside.
The lock is held from the check until the new run's state file is written, so
the second one sees the first one's state.

``fcntl.flock`` on ``<base>/beacon.lock``: the kernel drops it when its holder
dies, so a killed start never leaves the base dir locked; the descriptor is
close-on-exec, so neither the daemon nor the child inherits it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from types import TracebackType

from beacon.errors import StartupError
from beacon.flock import lock_exclusive
from beacon.paths import FILE_MODE, ArtifactPaths

#: ``session start`` holds the lock while its daemon comes up (at most its 30 s
#: readiness timeout) and writes the state: waiters give it that long and more.
LOCK_TIMEOUT_S = 45.0
# Polling a lock held for well under a second in the common case.
_POLL_S = 0.01


class BaseDirLock:
    """An exclusive lock on a base dir; ``release()`` may be called any number of times."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, paths: ArtifactPaths, timeout_s: float = LOCK_TIMEOUT_S) -> BaseDirLock:
        path = paths.lock_path
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError as exc:
            raise StartupError(
                f"cannot create the lock file {path}: {exc.strerror}",
                hint="pass --base-dir with a writable directory",
            ) from exc
        deadline = time.monotonic() + timeout_s
        try:
            locked = lock_exclusive(fd, deadline, _POLL_S)
        except OSError as exc:
            os.close(fd)
            raise StartupError(f"cannot lock {path}: {exc.strerror}") from exc
        if not locked:
            os.close(fd)
            raise StartupError(
                f"another beacon has been starting a run in {paths.base_dir} for "
                f"more than {timeout_s:g}s (it holds {path})",
                hint="give each concurrent run its own --base-dir",
            )
        return cls(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> BaseDirLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
