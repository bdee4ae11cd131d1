"""An exclusive ``flock`` taken within a deadline: the base dir's lock and the log's lock."""

from __future__ import annotations

import errno
import fcntl
import time
from collections.abc import Callable

# File systems without flock (some network mounts): the lock is then advisory only.
NO_LOCKING = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def lock_exclusive(
    fd: int, deadline: float, poll_s: float, *, on_wait: Callable[[], None] | None = None
) -> bool:
    """Lock ``fd``; False when ``time.monotonic()`` reached ``deadline`` first.

    ``on_wait`` is called once, when the lock is found held (so a run that
    waits can say why). A file system that cannot lock counts as locked (runs
    are then not ordered, as before the lock existed). Other failures raise
    ``OSError``.
    """
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            if on_wait is not None:
                on_wait()
                on_wait = None
            time.sleep(poll_s)  # another beacon holds it: poll, bounded by the deadline
        except OSError as exc:
            if exc.errno in NO_LOCKING:
                return True
            raise
