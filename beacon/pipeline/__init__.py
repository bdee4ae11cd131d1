"""The pipeline: spool -> normalized, redacted runtime.jsonl -> validation.

Pure stages (``normalize``, ``redact``, ``validate``) joined by
:func:`run_pipeline`, the one entry point. Never imports aiohttp or grpc.
"""

from __future__ import annotations

from beacon.pipeline.runner import PipelineResult, run_pipeline
from beacon.pipeline.settings import PipelineOptions, RedactionSettings
from beacon.pipeline.validate import (
    SpoolHealth,
    ValidationResult,
    ValidationStage,
    validate_log,
)

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
