"""Findings: a rule's match with its evidence (field names as agent-beacon's findings.go).

The evidence of a finding is each matching line's timestamp and action plus a
short excerpt of what matched (command, path, MCP server, ...). The lines
rules see are already redacted; the excerpt is redacted once more with the
pipeline's rules so that a log scanned with ``ci scan`` from elsewhere cannot
put a secret into result.json either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from beacon.rules.severity import at_or_above, severity_counts, severity_rank

__all__ = ["Finding", "at_or_above", "evidence_of", "severity_counts", "sort_findings"]

EXCERPT_CHARS = 200
_EXCERPT_FIELDS = (
    ("command", "command"),
    ("file", "path"),
    ("mcp", "server"),
    ("prompt", "text"),
    ("error", "type"),
    ("message",),
)


@dataclass
class Finding:
    rule_id: str
    title: str
    severity: str
    posture: str
    session_id: str
    reason: str
    events: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "match"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def one_line(self) -> str:
        where = f" (session {self.session_id})" if self.session_id else ""
        detail = next((e.get("excerpt") for e in self.events if e.get("excerpt")), "")
        tail = f": {detail}" if detail else ""
        return f"[{self.severity}] {self.rule_id}{where}: {self.reason}{tail}"


def _get(event: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    node: Any = event
    for part in parts:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def redact_excerpt(text: str) -> str:
    from beacon.pipeline.redact import Redactor

    global _REDACTOR
    if _REDACTOR is None:
        _REDACTOR = Redactor()
    return str(_REDACTOR.redact_text(text, {}))


_REDACTOR: Any = None


def evidence_of(event: Mapping[str, Any]) -> dict[str, Any]:
    excerpt = ""
    for parts in _EXCERPT_FIELDS:
        value = _get(event, parts)
        if isinstance(value, str) and value:
            excerpt = value
            break
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[:EXCERPT_CHARS] + "…"
    return {
        "timestamp": event.get("timestamp") or "",
        "action": _get(event, ("event", "action")) or "",
        "excerpt": redact_excerpt(excerpt) if excerpt else "",
    }


def sort_findings(findings: list[Finding]) -> None:
    """Highest severity first, then rule id (``SortFindings``)."""
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.rule_id))
