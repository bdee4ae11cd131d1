"""The telemetry environment that points an agent at beacon, as data.

One table row per harness; :func:`telemetry_environment` merges the rows a run
asked for with the variables every OTLP exporter understands. Nothing here
touches the process environment: callers pass the job's environment in and get
the variables to set back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import quote

from beacon.errors import UsageError

PROTOCOLS = ("http/protobuf", "http/json", "grpc")
SIGNALS = ("LOGS", "METRICS", "TRACES")
PER_SIGNAL_KINDS = ("ENDPOINT", "PROTOCOL", "HEADERS")
SESSION_ATTRIBUTE = "beacon.session.id"
ORIGIN_ATTRIBUTE = "beacon.origin"


class When(Enum):
    """Which switch a variable depends on (``--no-traces`` etc. turn groups off)."""

    ALWAYS = "always"
    TRACES = "traces"
    PROMPTS = "prompts"
    TOOL_DETAILS = "tool_details"


@dataclass(frozen=True)
class EnvRule:
    name: str
    value: str
    when: When = When.ALWAYS
    off_value: str | None = None
    """Set instead when the switch is off (a client whose default is on needs an explicit
    off); None leaves the variable alone."""

    def resolve(self, switches: Switches, values: Mapping[str, str]) -> str | None:
        """The value for these switches; ``{endpoint}``-style fields come from ``values``."""
        chosen = self.value if switches.allows(self.when) else self.off_value
        try:
            return None if chosen is None else chosen.format_map(values)
        except KeyError:
            return None  # a file this rule points at was not prepared


@dataclass(frozen=True)
class Harness:
    name: str
    """The name the pipeline knows the harness by (``harness.name`` in runtime.jsonl)."""
    aliases: tuple[str, ...]
    rules: tuple[EnvRule, ...]
    protocols: Mapping[str, str] = field(default_factory=dict)
    """beacon protocol -> the protocol this client speaks for it (``{client_protocol}``),
    when the client cannot speak every one (Gemini CLI: no OTLP/HTTP protobuf)."""
    protocol_note: str = ""
    """Said when ``protocols`` changes what was asked for."""

    def client_protocol(self, protocol: str) -> str:
        return self.protocols.get(protocol, protocol)


# Intervals are short so a run that is killed loses at most ~1 s of batched
# records; Claude Code's defaults (5 s logs, 60 s metrics) would lose far more.
EXPORT_INTERVAL_MS = "1000"
METRIC_INTERVAL_MS = "2000"

CLAUDE_CODE = Harness(
    name="claude_code",
    aliases=("claude", "claude_code", "claude-code"),
    rules=(
        EnvRule("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
        EnvRule("OTEL_LOGS_EXPORTER", "otlp"),
        EnvRule("OTEL_METRICS_EXPORTER", "otlp"),
        EnvRule("OTEL_TRACES_EXPORTER", "otlp", When.TRACES),
        EnvRule("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1", When.TRACES),
        # Delta sums make each point a count of what happened since the last one.
        EnvRule("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        EnvRule("OTEL_LOGS_EXPORT_INTERVAL", EXPORT_INTERVAL_MS),
        EnvRule("OTEL_TRACES_EXPORT_INTERVAL", EXPORT_INTERVAL_MS, When.TRACES),
        EnvRule("OTEL_METRIC_EXPORT_INTERVAL", METRIC_INTERVAL_MS),
        # The default 2 s is too short for the exit flush on a loaded runner.
        EnvRule("CLAUDE_CODE_OTEL_SHUTDOWN_TIMEOUT_MS", "10000"),
        EnvRule("OTEL_LOG_USER_PROMPTS", "1", When.PROMPTS),
        EnvRule("OTEL_LOG_TOOL_DETAILS", "1", When.TOOL_DETAILS),
    ),
)

GEMINI_CLI = Harness(
    name="gemini_cli",
    aliases=("gemini", "gemini_cli", "gemini-cli"),
    rules=(
        # Its own variables only: nothing is written into the user's settings files.
        EnvRule("GEMINI_TELEMETRY_ENABLED", "true"),
        EnvRule("GEMINI_TELEMETRY_TARGET", "local"),
        EnvRule("GEMINI_TELEMETRY_OTLP_ENDPOINT", "{endpoint}"),
        # `grpc` or `http` (OTLP/HTTP with JSON bodies); OTEL_EXPORTER_OTLP_PROTOCOL is ignored.
        EnvRule("GEMINI_TELEMETRY_OTLP_PROTOCOL", "{client_protocol}"),
        # Prompt logging defaults to on: off must be said.
        EnvRule("GEMINI_TELEMETRY_LOG_PROMPTS", "true", When.PROMPTS, off_value="false"),
        EnvRule("GEMINI_TELEMETRY_TRACES_ENABLED", "true", When.TRACES, off_value="false"),
    ),
    protocols={"http/protobuf": "http", "http/json": "http", "grpc": "grpc"},
    protocol_note=(
        "gemini: Gemini CLI speaks OTLP/HTTP with JSON bodies only; it exports OTLP/HTTP "
        "JSON to beacon's HTTP receiver (which takes both)"
    ),
)

CODEX_CLI = Harness(
    name="codex_cli",
    aliases=("codex", "codex_cli", "codex-cli"),
    # No environment switch exists: the [otel] table of a beacon-owned CODEX_HOME that
    # merges the user's (beacon/agents/codex.py) does the work.
    rules=(EnvRule("CODEX_HOME", "{codex_home}"),),
)

GENERIC_OTEL = Harness(
    name="otel",
    aliases=("otel", "otlp"),
    rules=(
        EnvRule("OTEL_LOGS_EXPORTER", "otlp"),
        EnvRule("OTEL_METRICS_EXPORTER", "otlp"),
        EnvRule("OTEL_TRACES_EXPORTER", "otlp", When.TRACES),
        EnvRule("OTEL_BLRP_SCHEDULE_DELAY", EXPORT_INTERVAL_MS),
        EnvRule("OTEL_BSP_SCHEDULE_DELAY", EXPORT_INTERVAL_MS, When.TRACES),
        EnvRule("OTEL_METRIC_EXPORT_INTERVAL", METRIC_INTERVAL_MS),
    ),
)

HARNESSES: tuple[Harness, ...] = (CLAUDE_CODE, GEMINI_CLI, CODEX_CLI, GENERIC_OTEL)


def resolve_harnesses(spec: str | Iterable[str]) -> tuple[Harness, ...]:
    """``"claude,otel"`` (or a list of such strings) → harnesses, in order, without repeats."""
    parts = [spec] if isinstance(spec, str) else list(spec)
    names = [name.strip().lower() for part in parts for name in part.split(",") if name.strip()]
    if not names:
        names = ["claude"]
    chosen: list[Harness] = []
    for name in names:
        harness = next((h for h in HARNESSES if name in h.aliases), None)
        if harness is None:
            known = ", ".join(h.aliases[0] for h in HARNESSES)
            raise UsageError(f"unknown harness {name!r}", hint=f"use one of: {known}")
        if harness not in chosen:
            chosen.append(harness)
    return tuple(chosen)


@dataclass(frozen=True)
class Switches:
    traces: bool = True
    prompts: bool = True
    tool_details: bool = True

    def allows(self, when: When) -> bool:
        return {
            When.ALWAYS: True,
            When.TRACES: self.traces,
            When.PROMPTS: self.prompts,
            When.TOOL_DETAILS: self.tool_details,
        }[when]


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise UsageError(
            f"unknown protocol {protocol!r}", hint=f"use one of: {', '.join(PROTOCOLS)}"
        )
    return protocol


def endpoint_for(protocol: str, endpoints: Mapping[str, str]) -> str:
    """The base endpoint a client of ``protocol`` must use (always with a scheme)."""
    key = "grpc" if protocol == "grpc" else "http"
    try:
        return endpoints[key]
    except KeyError:
        raise UsageError(
            f"the collector runs no {key} receiver for protocol {protocol}",
            hint="start it with --receivers all or the matching --protocol",
        ) from None


def auth_header(token: str) -> str:
    # Lower-case key, percent-encoded space: the form OTEL_EXPORTER_OTLP_HEADERS
    # specifies. Claude Code sends it verbatim, the SDKs decode it; the collector
    # accepts both.
    return f"authorization=Bearer%20{token}"


def merge_resource_attributes(existing: str | None, session_id: str) -> str:
    """The job's own ``k=v`` pairs (kept as written) plus beacon's, beacon's winning."""
    ours = {SESSION_ATTRIBUTE: session_id, ORIGIN_ATTRIBUTE: "ci"}
    kept = []
    for pair in (existing or "").split(","):
        key = pair.split("=", 1)[0].strip()
        if pair.strip() and key not in ours:
            kept.append(pair.strip())
    kept.extend(f"{key}={quote(value, safe='')}" for key, value in ours.items())
    return ",".join(kept)


def per_signal_overrides(
    job_environ: Mapping[str, str], protocol: str, endpoint: str, headers: str
) -> dict[str, str]:
    """Beacon's values for every per-signal variable the job set.

    Per-signal variables win over the generic ones in every SDK, so one left in
    place would divert that signal away from beacon.
    """
    overrides: dict[str, str] = {}
    for signal in SIGNALS:
        values = {
            "ENDPOINT": signal_endpoint(protocol, endpoint, signal),
            "PROTOCOL": protocol,
            "HEADERS": headers,
        }
        for kind in PER_SIGNAL_KINDS:
            name = f"OTEL_EXPORTER_OTLP_{signal}_{kind}"
            if name in job_environ:
                overrides[name] = values[kind]
    return overrides


def signal_endpoint(protocol: str, endpoint: str, signal: str) -> str:
    # A per-signal HTTP endpoint is used as-is (no /v1/<signal> appended); gRPC
    # has one endpoint for every service.
    if protocol == "grpc":
        return endpoint
    return f"{endpoint.rstrip('/')}/v1/{signal.lower()}"


def telemetry_environment(
    *,
    harnesses: Iterable[Harness],
    protocol: str,
    endpoint: str,
    token: str,
    session_id: str,
    job_environ: Mapping[str, str],
    switches: Switches = Switches(),
    files: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every variable beacon sets for the agent, in a stable order. ``files``: what
    :func:`prepare_files` made (``codex_home``)."""
    headers = auth_header(token)
    env: dict[str, str] = {}
    for harness in harnesses:
        values = {
            "endpoint": endpoint,
            "client_protocol": harness.client_protocol(protocol),
            **(files or {}),
        }
        for rule in harness.rules:
            value = rule.resolve(switches, values)
            if value is not None:
                env[rule.name] = value
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    env["OTEL_EXPORTER_OTLP_HEADERS"] = headers
    env["OTEL_RESOURCE_ATTRIBUTES"] = merge_resource_attributes(
        job_environ.get("OTEL_RESOURCE_ATTRIBUTES"), session_id
    )
    env.update(per_signal_overrides(job_environ, protocol, endpoint, headers))
    return env


def prepare_files(
    harnesses: Iterable[Harness],
    base_dir: Path,
    job_environ: Mapping[str, str],
    *,
    protocol: str,
    endpoint: str,
    token: str,
    switches: Switches,
) -> dict[str, str]:
    """Files a harness configured by a file needs (Codex: its CODEX_HOME), by template name."""
    from beacon.agents.codex import prepare_codex_home

    made: dict[str, str] = {}
    if CODEX_CLI in tuple(harnesses):
        home = prepare_codex_home(
            base_dir,
            job_environ,
            protocol=protocol,
            endpoint=endpoint,
            token=token,
            prompts=switches.prompts,
            traces=switches.traces,
        )
        made["codex_home"] = str(home)
    return made


def protocol_notes(harnesses: Iterable[Harness], protocol: str) -> list[str]:
    """What beacon tells the user about a harness that speaks another protocol than asked."""
    return [
        harness.protocol_note
        for harness in harnesses
        if harness.protocol_note and harness.client_protocol(protocol) != protocol
    ]


def original_destination(job_environ: Mapping[str, str]) -> dict[str, str]:
    """The job's own OTLP exporter settings, remembered for later forwarding."""
    return {
        name: value
        for name, value in job_environ.items()
        if name.startswith("OTEL_EXPORTER_OTLP_") or name == "OTEL_RESOURCE_ATTRIBUTES"
    }
