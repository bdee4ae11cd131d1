"""Copy files, then become a command: ``snapshot_then_exec.py SRC DST [SRC DST...] -- CMD...``.

The leak campaign runs the agent through it under ``ci exec`` so that the state file
``ci exec`` keeps while its child runs (``exec.json``) can be grepped too: it is gone
when the run ends. A missing source is recorded as missing, never an error.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    split = argv.index("--")
    pairs, command = argv[:split], argv[split + 1 :]
    for source, target in zip(pairs[::2], pairs[1::2], strict=True):
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            Path(target + ".missing").write_text(source + "\n", encoding="utf-8")
    os.execv(command[0], command)  # noqa: S606 - the agent, exactly as given


if __name__ == "__main__":
    main(sys.argv[1:])
