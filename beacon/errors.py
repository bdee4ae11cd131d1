"""Typed errors raised by the core and the exit codes the CLI maps them to.

Only ``beacon.cli`` turns these into process exit codes; everything else raises.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every ``beacon`` command (documented in docs/exit-codes.md).

    A non-zero exit code of the wrapped child always wins over these
    (128 + N when the child was killed by signal N).
    """

    OK = 0
    USAGE = 2
    VALIDATION_FAILED = 3
    UPLOAD_FAILED = 4
    BEACON_FAILED = 5
    NO_SESSION = 6
    POLICY_FAILED = 7
    TIMEOUT = 124


class BeaconError(Exception):
    """Base class: a failure beacon can explain; ``exit_code`` says how the CLI ends."""

    exit_code: ExitCode = ExitCode.BEACON_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class UsageError(BeaconError):
    """The command line or configuration is wrong."""

    exit_code = ExitCode.USAGE


class StartupError(BeaconError):
    """beacon could not start: a port is taken, the base dir is unusable, ..."""

    exit_code = ExitCode.BEACON_FAILED


class SpoolError(BeaconError):
    """The spool cannot be written (disk full, permissions). Exporters should retry later."""

    exit_code = ExitCode.BEACON_FAILED


class NoSessionError(BeaconError):
    """No session exists in the base dir to act on."""

    exit_code = ExitCode.NO_SESSION


class ValidationFailed(BeaconError):
    """The runtime log did not pass validation (and telemetry was required)."""

    exit_code = ExitCode.VALIDATION_FAILED


class UploadError(BeaconError):
    """Uploading the runtime log failed."""

    exit_code = ExitCode.UPLOAD_FAILED


class RuleFileError(UsageError):
    """A rule file cannot be loaded: bad YAML, an unknown field, bad CEL, a bad window..."""

    def __init__(
        self, problem: str, *, file: str, rule_id: str | None = None, hint: str | None = None
    ) -> None:
        where = file if rule_id is None else f"{file}: rule {rule_id}"
        super().__init__(f"{where}: {problem}", hint=hint)
        self.file = file
        self.rule_id = rule_id
        self.problem = problem
