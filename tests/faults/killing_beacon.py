"""beacon's CLI, SIGKILLed at a chosen point of its finish (a fault for tests).

    python killing_beacon.py ci exec ...   (the same arguments as ``beacon``)

``KILL_LOG_PATH`` names the log; ``KILL_AFTER_BYTES`` how many bytes this
process writes to it before it dies. The write that crosses that count is
cut there, mid-line, and the process sends itself SIGKILL: what the runner's
kill or the OOM killer does to a beacon that is writing its log. Or
``KILL_BEFORE_REPLACING`` names a file (``result.json``): the process dies
just before a finished copy is renamed into its place, after the log is
written. Everything else runs unchanged: beacon's own code opens, writes and
locks the files; only ``os.write`` and ``os.replace`` are watched, and only
for those files.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def _install() -> None:
    if "KILL_BEFORE_REPLACING" in os.environ:
        _kill_before_replacing(os.path.realpath(os.environ["KILL_BEFORE_REPLACING"]))
    else:
        _kill_in_writes(os.path.realpath(os.environ["KILL_LOG_PATH"]))


def _kill_before_replacing(target: str) -> None:
    real_replace = os.replace

    def replace(source: Any, destination: Any, **kwargs: Any) -> None:
        if os.path.realpath(destination) == target:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(source, destination, **kwargs)

    os.replace = replace


def _kill_in_writes(target: str) -> None:
    left = [int(os.environ["KILL_AFTER_BYTES"])]
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        try:
            path = str(Path(f"/proc/self/fd/{fd}").readlink())
        except OSError:
            path = ""
        if path != target:
            return real_write(fd, data)
        data = bytes(data)
        if len(data) < left[0]:
            left[0] -= len(data)
            return real_write(fd, data)
        real_write(fd, data[: left[0]])
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable: SIGKILL was sent")

    os.write = write  # type: ignore[assignment]


if __name__ == "__main__":
    _install()
    from beacon.cli import main

    sys.argv[0] = "beacon"
    main()
