"""False positives: how much of a benign corpus redaction touches (printed, and bounded)."""

from __future__ import annotations

from pathlib import Path

from beacon.pipeline.redact import Redactor

from .helpers import FIXTURES

CORPUS = FIXTURES / "benign"
MAX_FALSE_POSITIVE_RATE = 0.01


def corpus_lines() -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for path in sorted(CORPUS.iterdir()):
        lines.extend((path.name, line) for line in path.read_text().splitlines() if line.strip())
    return lines


def test_false_positive_rate_on_the_benign_corpus() -> None:
    redactor = Redactor()
    lines = corpus_lines()
    flagged = []
    for name, line in lines:
        counts: dict[str, int] = {}
        if redactor.redact_text(line, counts) != line:
            flagged.append((name, line, counts))
    rate = len(flagged) / len(lines)
    print(f"\nbenign corpus: {len(lines)} lines, {len(flagged)} redacted, rate {rate:.2%}")
    for name, line, counts in flagged:
        print(f"  {name}: {counts}: {line[:100]}")
    assert len(lines) >= 200
    assert rate <= MAX_FALSE_POSITIVE_RATE


def test_the_corpus_covers_the_kinds_of_text_that_matter() -> None:
    names = {path.name for path in CORPUS.iterdir()}
    assert {"code.py.txt", "ci.log.txt", "ids.txt", "base64.txt", "paths_urls.txt"} <= names
    assert Path(CORPUS / "base64.txt").read_text().startswith("data:image/png;base64,")
