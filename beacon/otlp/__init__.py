"""OTLP plumbing shared by the collector and the pipeline: codecs, no transport.

``SIGNALS`` names the three OTLP signals; every function taking a ``signal``
accepts exactly these strings.
"""

from __future__ import annotations

from typing import Final, Literal

Signal = Literal["logs", "metrics", "traces"]
SIGNALS: Final[tuple[Signal, ...]] = ("logs", "metrics", "traces")


class OtlpDecodeError(ValueError):
    """A request body is not a valid OTLP export request (bad protobuf or JSON)."""


__all__ = ["SIGNALS", "OtlpDecodeError", "Signal"]
