"""Install the Node OpenTelemetry client of tests/e2e/node into the test cache; print its dir.

A thin command-line twin of ``claude_install.py --node`` so CI / nox can pre-install it.
"""

from __future__ import annotations

import sys

from claude_install import main

if __name__ == "__main__":
    sys.exit(main(["--node", *sys.argv[1:]]))
