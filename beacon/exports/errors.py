"""The one-line error for a missing optional dependency."""

from __future__ import annotations

from beacon.errors import UsageError


def missing_extra(extra: str, module: str) -> UsageError:
    return UsageError(
        f"uploading to {extra} needs {module}, which is not installed",
        hint=f"pip install 'beacon-ci[{extra}]'",
    )
