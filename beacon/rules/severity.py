"""Severities and their order (``findings.go``: ``SeverityRank``); no imports, no classes:
``ci exec`` imports this at start for ``--fail-on``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """info=0 ... critical=4; unknown values rank 0, as in findings.go."""
    return SEVERITY_RANK.get(severity, 0)


def _severity(finding: Any) -> str:
    return str(finding["severity"] if isinstance(finding, Mapping) else finding.severity)


def severity_counts(findings: Iterable[Any]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        severity = _severity(finding)
        counts[severity] = counts.get(severity, 0) + 1
    return counts


def at_or_above(findings: Iterable[Any], threshold: str | None) -> list[Any]:
    if threshold is None:
        return []
    rank = severity_rank(threshold)
    return [f for f in findings if severity_rank(_severity(f)) >= rank]
