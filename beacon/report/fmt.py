"""How figures read to a person: money, counts, durations (one place for every format)."""

from __future__ import annotations

UNKNOWN = "unknown"


def money(cost: float | None) -> str:
    """``$0.0027``; ``unknown`` when the harness sent no cost (never ``$0``)."""
    if cost is None:
        return UNKNOWN
    if cost >= 100:
        return f"${cost:,.2f}"
    if cost >= 1:
        return f"${cost:.4f}"
    return f"${cost:.6f}".rstrip("0").rstrip(".") if cost else "$0.00"


def count(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value:,}"


def duration(ms: int | float | None) -> str:
    if ms is None:
        return UNKNOWN
    seconds = ms / 1000.0
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def clip(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)] + "…"
