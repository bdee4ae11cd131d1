"""Make Debian's ``chromium`` available for the HTML report test; print its path.

The report test renders ``report.html`` in headless Chromium. When the browser is
missing and we may install it (root, ``apt-get`` present), it comes from Debian's own
package with ``--no-install-recommends`` (never upgrading anything else); an apt lock
file is respected by apt itself, and a lock of ours serialises two pytest sessions.
Anything else raises :class:`ChromiumUnavailable` with the reason: the test fails
loudly, it never skips.

Command line (nox pre-installs with it)::

    python tests/report/chromium_install.py
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser")
APT_TIMEOUT_S = 1200.0
LOCK_PATH = Path("/tmp/beacon-tests-chromium.lock")


class ChromiumUnavailable(RuntimeError):
    """No chromium and no way to install it here; the message says why."""


def find_chromium() -> Path | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise ChromiumUnavailable(f"apt-get {' '.join(args)} failed:\n{done.stderr[-4000:]}")


def ensure_chromium() -> Path:
    found = find_chromium()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ChromiumUnavailable(
            "chromium is not installed and cannot be installed here (needs root and apt-get): "
            "install Debian's chromium package"
        )
    with LOCK_PATH.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        found = find_chromium()
        if found is None:
            _apt("update", "-qq")
            _apt("install", "-y", "-qq", "--no-install-recommends", "chromium")
            found = find_chromium()
    if found is None:
        raise ChromiumUnavailable("apt-get installed chromium but no chromium binary is on PATH")
    return found


if __name__ == "__main__":
    print(ensure_chromium())
    sys.exit(0)
