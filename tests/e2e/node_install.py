"""Install the Node OpenTelemetry client of tests/e2e/node into the test cache; print its dir.

A thin command-line twin of ``claude_install.py --node`` so CI / nox can pre-install it.
"""

from __future__ import annotations

import importlib
import sys

if __name__ == "__main__":
    # Run as a script, this directory is on sys.path: import the sibling module by name.
    installer = importlib.import_module("claude_install")
    sys.exit(installer.main(["--node", *sys.argv[1:]]))
