"""Settings of a beacon run: one frozen object per stage, resolved once.

Every setting comes from its flag, else an environment variable, else a
default (the table in docs/environment.md). Empty environment values count as
unset: ``session stop`` restores ``$GITHUB_ENV`` by writing empty strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from beacon.agents.harnesses import Harness, Switches, check_protocol, resolve_harnesses
from beacon.errors import UsageError
from beacon.exports.settings import ExportSettings
from beacon.paths import ArtifactPaths, default_base_dir
from beacon.rules.settings import RulesSettings

if TYPE_CHECKING:
    from beacon.spool import FsyncMode

BASE_DIR_ENV = "BEACON_CI_BASE_DIR"
LOG_PATH_ENV = "BEACON_CI_LOG_PATH"
STATE_PATH_ENV = "BEACON_CI_STATE_PATH"

DEFAULT_PROTOCOL = "http/protobuf"
DEFAULT_DRAIN_QUIET_S = 0.2
DEFAULT_DRAIN_MAX_S = 5.0
DEFAULT_MAX_DURATION_S = 6 * 3600.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(value: str, *, option: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(f"invalid value {value!r} for {option}", hint="use true, false, 1 or 0")


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value or None


def resolve_paths(
    base_dir: Path | None, log_path: Path | None, environ: Mapping[str, str]
) -> ArtifactPaths:
    """Flag, else ``BEACON_CI_*`` (exported by ``session start``), else the default."""
    env_base = _env(environ, BASE_DIR_ENV)
    env_log = _env(environ, LOG_PATH_ENV)
    resolved_base = base_dir or (Path(env_base) if env_base else default_base_dir(environ))
    resolved_log = log_path or (Path(env_log) if env_log else None)
    return ArtifactPaths.create(resolved_base.absolute(), resolved_log and resolved_log.absolute())


def resolve_receivers(protocol: str, receivers: str | None) -> frozenset[str]:
    """``--receivers``: the protocol's own (default), ``all``, or a comma list."""
    if receivers is None or receivers.strip() in ("", "auto"):
        return frozenset({"grpc" if protocol == "grpc" else "http"})
    names = {name.strip().lower() for name in receivers.split(",") if name.strip()}
    if "all" in names:
        return frozenset({"http", "grpc"})
    unknown = names - {"http", "grpc"}
    if unknown:
        raise UsageError(
            f"unknown receiver {sorted(unknown)[0]!r}", hint="use http, grpc, all or auto"
        )
    needed = "grpc" if protocol == "grpc" else "http"
    if needed not in names:
        raise UsageError(
            f"--protocol {protocol} needs the {needed} receiver",
            hint=f"add {needed} to --receivers or use --receivers all",
        )
    return frozenset(names)


def positive(value: float, *, option: str, allow_zero: bool = False) -> float:
    if value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{option} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return value


@dataclass(frozen=True)
class CaptureSettings:
    """What the collector and the child's environment need."""

    paths: ArtifactPaths
    protocol: str = DEFAULT_PROTOCOL
    receivers: frozenset[str] = frozenset({"http"})
    harnesses: tuple[Harness, ...] = field(default_factory=lambda: resolve_harnesses("claude"))
    switches: Switches = field(default_factory=Switches)
    drain_quiet_s: float = DEFAULT_DRAIN_QUIET_S
    drain_max_s: float = DEFAULT_DRAIN_MAX_S
    fsync: FsyncMode = "batch"

    @classmethod
    def build(
        cls,
        *,
        paths: ArtifactPaths,
        protocol: str,
        receivers: str | None,
        harness: list[str],
        traces: bool,
        prompts: bool,
        tool_details: bool,
        drain_quiet_s: float,
        drain_max_s: float,
        fsync: str = "batch",
    ) -> CaptureSettings:
        check_protocol(protocol)
        # Lazy: beacon.spool loads asyncio, which `session env/status` never need.
        from beacon.spool import FSYNC_MODES

        if fsync not in FSYNC_MODES:
            raise UsageError(
                f"unknown --fsync {fsync!r}", hint=f"use one of {', '.join(FSYNC_MODES)}"
            )
        return cls(
            paths=paths,
            protocol=protocol,
            receivers=resolve_receivers(protocol, receivers),
            harnesses=resolve_harnesses(harness),
            switches=Switches(traces=traces, prompts=prompts, tool_details=tool_details),
            drain_quiet_s=positive(drain_quiet_s, option="--drain-quiet", allow_zero=True),
            drain_max_s=positive(drain_max_s, option="--drain-max", allow_zero=True),
            fsync=fsync,
        )


@dataclass(frozen=True)
class FinishSettings:
    """What the pipeline and the exit code need at the end of a run."""

    require_telemetry: bool = True
    keep_spool: bool = False
    min_events: int = 1
    require_actions: tuple[str, ...] = ()
    redact_env: tuple[str, ...] = ()
    redact_patterns: tuple[str, ...] = ()
    exports: ExportSettings = field(default_factory=ExportSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)

    def __post_init__(self) -> None:
        if self.min_events < 0:
            raise UsageError(f"--min-events must be >= 0, got {self.min_events}")
