"""Model names as one group: ``claude-opus-4-8[1m]`` (spans, metrics) = ``claude-opus-4-8``.

Claude Code names the model with a context-window suffix in spans and metrics but
not in ``api_request`` events (docs/runtime-schema.md, "Facts about the sources");
grouping by the raw name would split one model's usage in two.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SUFFIX = re.compile(r"\s*\[[^\]]*\]\s*$")
UNKNOWN_MODEL = "unknown"


def normalize_model(name: object) -> str:
    """The grouping key of a model name: no ``[...]`` suffix, trimmed, lower case."""
    if not isinstance(name, str) or not name.strip():
        return UNKNOWN_MODEL
    return _normalize(name)


@lru_cache(maxsize=256)
def _normalize(name: str) -> str:
    return _SUFFIX.sub("", name).strip().lower() or UNKNOWN_MODEL
