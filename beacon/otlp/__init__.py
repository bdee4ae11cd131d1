"""OTLP plumbing shared by the collector and the pipeline: codecs, no transport.

``SIGNALS`` names the three OTLP signals; every function taking a ``signal``
accepts exactly these strings.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import orjson

Signal = Literal["logs", "metrics", "traces"]
SIGNALS: Final[tuple[Signal, ...]] = ("logs", "metrics", "traces")

#: The top-level key of an export request's OTLP/JSON, which names its signal.
SIGNAL_OF_KEY: Final[dict[str, Signal]] = {
    "resourceLogs": "logs",
    "resourceMetrics": "metrics",
    "resourceSpans": "traces",
}
TOP_LEVEL_KEY: Final[dict[str, str]] = {signal: key for key, signal in SIGNAL_OF_KEY.items()}


def parse_spool_line(line: bytes) -> tuple[Signal, dict[str, Any]] | None:
    """One spool line -> (signal, request as OTLP/JSON); None when it is not one.

    Shared by the spool reader and the pipeline's chunk worker, which must agree
    on what counts as a bad line.
    """
    try:
        payload = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    for key, signal in SIGNAL_OF_KEY.items():
        if key in payload:
            return signal, payload
    return None


class OtlpDecodeError(ValueError):
    """A request body is not a valid OTLP export request (bad protobuf or JSON)."""


__all__ = [
    "SIGNALS",
    "SIGNAL_OF_KEY",
    "TOP_LEVEL_KEY",
    "OtlpDecodeError",
    "Signal",
    "parse_spool_line",
]
