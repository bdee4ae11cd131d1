"""A benign corpus NOT written with the rules: real text shipped with Python and packages.

The hand-written corpus in tests/fixtures/benign was written next to the
rules, so it guards regressions but does not measure anything. This one is
harvested, by fixed regular expressions, from files nobody here wrote: the
standard library of the running interpreter (its own tests included) and the
test environment's site-packages. Categories:

- ``sha``: lines holding a 40-hex-digit commit SHA;
- ``uuid``: lines holding a UUID;
- ``digest``: file digests (``sha256=`` in wheels' RECORD files, ``sha256:<hex>``);
- ``base64``: lines with a long base64 run (embedded images, test vectors);
- ``prose``: comments that talk about tokens, passwords, secrets, credentials.

Each category keeps at most ``PER_CATEGORY`` lines, spread evenly over the
sorted matches, so the corpus is the same for the same interpreter and
dependency versions.
"""

from __future__ import annotations

import re
import site
import sysconfig
from collections.abc import Iterator
from pathlib import Path

PER_CATEGORY = 400
MAX_LINE = 2000
CATEGORIES: dict[str, re.Pattern[str]] = {
    "sha": re.compile(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])"),
    "uuid": re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
    "digest": re.compile(r"sha256[=:][A-Za-z0-9_\-+/]{43,64}"),
    "base64": re.compile(r"[A-Za-z0-9+/]{76,}={0,2}"),
    "prose": re.compile(
        r"^\s*#.*\b(tokens?|passwords?|passwd|secrets?|credentials?|api[ _]keys?)\b", re.I
    ),
}
_SUFFIXES = {".py", ".txt", ".rst", ".md", ".json"}
_NAMES = {"RECORD", "METADATA"}
#: Larger files are data (botocore's service models), not text a person wrote.
_MAX_FILE_BYTES = 256 << 10


def _roots() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    packages = [Path(p) for p in site.getsitepackages()]
    return [stdlib, *packages]


def _files(roots: list[Path]) -> Iterator[Path]:
    stdlib = roots[0]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if root == stdlib and "site-packages" in path.parts:
                continue  # the base interpreter's own packages differ from machine to machine
            if path.name not in _NAMES and path.suffix not in _SUFFIXES:
                continue
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.stat().st_size <= _MAX_FILE_BYTES:
                yield path


def harvest() -> dict[str, list[str]]:
    """Category -> lines, at most ``PER_CATEGORY`` each, deterministic."""
    found: dict[str, list[str]] = {name: [] for name in CATEGORIES}
    for path in _files(_roots()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for line in text.splitlines():
            if not line.strip() or len(line) > MAX_LINE:
                continue
            for name, pattern in CATEGORIES.items():
                if pattern.search(line):
                    found[name].append(line)
                    break
    return {name: _spread(sorted(set(lines))) for name, lines in found.items()}


def _spread(lines: list[str]) -> list[str]:
    if len(lines) <= PER_CATEGORY:
        return lines
    step = len(lines) / PER_CATEGORY
    return [lines[int(i * step)] for i in range(PER_CATEGORY)]
