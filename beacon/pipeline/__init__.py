"""The pipeline: spool -> normalized, redacted runtime.jsonl -> validation.

Pure stages (``normalize``, ``redact``, ``validate``) joined by
:func:`run_pipeline`, the one entry point. Never imports aiohttp or grpc.

Exports are loaded on first use, so a process that needs one stage (the
chunk worker of ``worker.py``) does not import them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beacon.pipeline.runner import PipelineResult, run_pipeline
    from beacon.pipeline.settings import PipelineOptions, RedactionSettings
    from beacon.pipeline.validate import (
        SpoolHealth,
        ValidationResult,
        ValidationStage,
        validate_log,
    )

_EXPORTS = {
    "PipelineOptions": "beacon.pipeline.settings",
    "PipelineResult": "beacon.pipeline.runner",
    "RedactionSettings": "beacon.pipeline.settings",
    "SpoolHealth": "beacon.pipeline.validate",
    "ValidationResult": "beacon.pipeline.validate",
    "ValidationStage": "beacon.pipeline.validate",
    "run_pipeline": "beacon.pipeline.runner",
    "validate_log": "beacon.pipeline.validate",
}

__all__ = [
    "PipelineOptions",
    "PipelineResult",
    "RedactionSettings",
    "SpoolHealth",
    "ValidationResult",
    "ValidationStage",
    "run_pipeline",
    "validate_log",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'beacon.pipeline' has no attribute {name!r}")
    return getattr(import_module(module), name)
