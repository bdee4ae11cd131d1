"""beacon's CLI, SIGKILLed in the middle of its writes to runtime.jsonl (a fault for tests).

    python killing_beacon.py ci exec ...   (the same arguments as ``beacon``)

``KILL_LOG_PATH`` names the log; ``KILL_AFTER_BYTES`` how many bytes this
process writes to it before it dies. The write that crosses that count is
cut there, mid-line, and the process sends itself SIGKILL: what the runner's
kill or the OOM killer does to a beacon that is writing its log. Everything
else runs unchanged: beacon's own code opens, writes and locks the file; only
``os.write`` is watched, and only for that file.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def _install() -> None:
    target = os.path.realpath(os.environ["KILL_LOG_PATH"])
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
