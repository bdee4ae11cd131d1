# opt() and argument() return dataclasses.field(...) objects, not shared defaults.
# ruff: noqa: RUF009
"""The one option table: every command, its options, their help. No typer here.

Each command's arguments are a dataclass whose fields carry their
:class:`Option` (names, kind, help) as metadata; the field's default is the
option's default. Three things are derived from this module and nothing
else:

- the typer-free fast path (:mod:`beacon.cli.argv`),
- typer's commands and their ``--help`` (:mod:`beacon.cli.typer_commands`),
- the CLI reference in the docs (:mod:`beacon.cli.reference`).

To add an option: add a field to the command's ``*Args`` class (or to a
shared ``Option`` below), then run ``python -m beacon.cli.reference`` to
regenerate ``docs/cli-reference.md`` (a test fails until it is).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Kind = Literal["flag", "value", "multi", "path", "int"]

#: Field metadata keys.
OPTION = "beacon.option"
ARGUMENT = "beacon.argument"
ARGUMENT_METAVAR = "beacon.argument.metavar"
#: The metavar of ``ci exec``'s wrapped command, which follows ``--``.
COMMAND_METAVAR = "CMD"

REQUIRE_TELEMETRY = "--require-telemetry"
UPLOAD_REQUIRED = "--upload-required"


@dataclass(frozen=True)
class Option:
    """One command-line option.

    kind: ``flag`` takes no value; ``value`` one string; ``multi`` one string
    per occurrence (repeatable); ``path`` a filesystem path; ``int`` an integer.
    """

    names: tuple[str, ...]
    kind: Kind
    help: str
    metavar: str = ""

    @property
    def name(self) -> str:
        return self.names[0]

    def takes_value(self) -> bool:
        return self.kind != "flag"


def opt(option: Option, default: Any = None) -> Any:
    """A dataclass field for ``option`` (a fresh list for ``multi``)."""
    if option.kind == "multi":
        return field(default_factory=list, metadata={OPTION: option})
    if option.kind == "flag":
        default = False
    return field(default=default, metadata={OPTION: option})


def argument(help_text: str, metavar: str = COMMAND_METAVAR) -> Any:
    """The positional words: ``ci exec -- CMD ARGS``, or ``fleet sql QUERY``."""
    return field(default_factory=list, metadata={ARGUMENT: help_text, ARGUMENT_METAVAR: metavar})


# Paths and output, shared.
BASE_DIR = Option(
    ("--base-dir",),
    "path",
    "Where beacon keeps its artifacts (default: $BEACON_CI_BASE_DIR, "
    "else $RUNNER_TEMP/beacon, else <tmp>/beacon).",
    "DIR",
)
LOG_PATH = Option(
    ("--log-path",),
    "path",
    "Where runtime.jsonl goes (default: $BEACON_CI_LOG_PATH, else <base-dir>/runtime.jsonl).",
    "FILE",
)
JSON_OUTPUT = Option(("--json",), "flag", "Print the result object as the last stdout line.")
QUIET = Option(("--quiet", "-q"), "flag", "Print only errors and warnings.")

# Capture: the collector and the child's environment.
PROTOCOL = Option(("--protocol",), "value", "grpc, http/protobuf or http/json.", "PROTOCOL")
RECEIVERS = Option(
    ("--receivers",),
    "value",
    "Receivers to run: auto (the protocol's), http, grpc, all.",
    "RECEIVERS",
)
HARNESS = Option(
    ("--harness",),
    "multi",
    "claude (default), codex, gemini, otel, or a comma list (repeatable).",
    "HARNESS",
)
NO_TRACES = Option(("--no-traces",), "flag", "Do not ask the agent for spans.")
NO_PROMPTS = Option(("--no-prompts",), "flag", "Do not ask the agent for prompt text.")
NO_TOOL_DETAILS = Option(
    ("--no-tool-details",), "flag", "Do not ask for tool parameters (commands, paths)."
)
DRAIN_QUIET = Option(
    ("--drain-quiet",),
    "value",
    "Quiet period that ends the drain (e.g. 0.2, 200ms).",
    "DURATION",
)
DRAIN_MAX = Option(("--drain-max",), "value", "Longest drain (e.g. 5, 5s).", "DURATION")
FSYNC = Option(
    ("--fsync",),
    "value",
    "When acknowledged telemetry is forced to disk: always, batch (at most every 100 ms, "
    "default) or off. A crashed process loses nothing acknowledged in any mode; this is "
    "about a crashed host.",
    "MODE",
)

# Finish: the pipeline and the exit code.
REQUIRE_TELEMETRY_OPT = Option(
    (REQUIRE_TELEMETRY,),
    "value",
    "true (default) or false, 1 or 0: exit 3 when validation fails. Alone, it means true.",
    "BOOL",
)
NO_REQUIRE_TELEMETRY = Option(
    ("--no-require-telemetry",), "flag", "Same as --require-telemetry=false."
)
KEEP_SPOOL = Option(("--keep-spool",), "flag", "Keep the raw (unredacted) spool after success.")
MIN_EVENTS = Option(("--min-events",), "int", "Harness events required for validation.", "N")
REQUIRE_ACTION = Option(
    ("--require-action",),
    "multi",
    "An action that must be present (repeatable).",
    "ACTION",
)
REDACT_ENV = Option(
    ("--redact-env",),
    "multi",
    "Redact this environment variable's value (repeatable).",
    "NAME",
)
REDACT_PATTERN = Option(
    ("--redact-pattern",), "multi", "Redact matches of this regex (repeatable).", "REGEX"
)

# Exports: uploads and forwards (beacon.exports, docs/exports.md).
UPLOAD = Option(
    ("--upload",),
    "multi",
    "s3, gcs (bucket from BEACON_CI_S3_BUCKET / BEACON_CI_GCS_BUCKET), s3://BUCKET/PREFIX "
    "or gs://BUCKET/PREFIX; repeatable or a comma list.",
    "DEST",
)
UPLOAD_LAYOUT = Option(
    ("--upload-layout",), "value", "default or hive (dt=/provider=/repo=/run= keys).", "LAYOUT"
)
UPLOAD_KEY = Option(
    ("--upload-key",),
    "value",
    "Key template: {prefix} {provider} {owner} {repo} {run_id} {run_attempt} {job} "
    "{session_id} {date} {file}.",
    "TEMPLATE",
)
UPLOAD_GZIP = Option(
    ("--upload-gzip",), "flag", "Upload runtime.jsonl.gz (Content-Encoding: gzip)."
)
UPLOAD_REQUIRED_OPT = Option(
    (UPLOAD_REQUIRED,),
    "value",
    "true (default) or false: exit 4 when an upload or forward fails. Alone, it means true.",
    "BOOL",
)
UPLOAD_SSE = Option(
    ("--upload-sse",), "value", "S3 server-side encryption: AES256 or aws:kms.", "SSE"
)
UPLOAD_SSE_KMS_KEY_ID = Option(
    ("--upload-sse-kms-key-id",), "value", "The KMS key for --upload-sse aws:kms.", "KEY"
)
FORWARD = Option(
    ("--forward",),
    "multi",
    "otlp, original (the job's own OTLP destination), splunk or falcon (repeatable).",
    "KIND",
)
FORWARD_ENDPOINT = Option(("--forward-endpoint",), "value", "The URL to forward to.", "URL")
FORWARD_PROTOCOL = Option(
    ("--forward-protocol",), "value", "grpc or http/protobuf (default).", "PROTOCOL"
)
FORWARD_HEADER = Option(
    ("--forward-header",), "multi", "A header NAME=VALUE for forwards (repeatable).", "HEADER"
)
# Rules: detection rules, budgets and the policy gate (docs/rules.md).
RULES = Option(
    ("--rules",),
    "multi",
    "A rule file or directory (repeatable); 'builtin' is beacon's pack, the default.",
    "PATH",
)
NO_RULES = Option(("--no-rules",), "flag", "Evaluate no detection rules (budgets still apply).")
FAIL_ON = Option(
    ("--fail-on",),
    "value",
    "Exit 7 when a finding is at or above info, low, medium, high or critical "
    "(default: never, only report).",
    "SEVERITY",
)
BUDGET = Option(
    ("--budget",),
    "multi",
    "A limit on the run: KEY[@MODEL]=VALUE[:SEVERITY], e.g. cost_usd=5 (repeatable; "
    "severity high unless given).",
    "LIMIT",
)
SESSION_ID = Option(
    ("--session-id",),
    "value",
    "The beacon run to check [default: the most recent run].",
    "ID",
)


@dataclass
class UploadFields:
    """Where a run's objects go: ``ci exec``, ``session stop`` and ``ci upload`` share these."""

    upload: list[str] = opt(UPLOAD)
    upload_layout: str | None = opt(UPLOAD_LAYOUT)
    upload_key: str | None = opt(UPLOAD_KEY)
    upload_gzip: bool = opt(UPLOAD_GZIP)
    upload_required: str | None = opt(UPLOAD_REQUIRED_OPT)
    upload_sse: str | None = opt(UPLOAD_SSE)
    upload_sse_kms_key_id: str | None = opt(UPLOAD_SSE_KMS_KEY_ID)


@dataclass
class FinishFields(UploadFields):
    """How a run ends: validation, redaction, exports, rules (``ci exec``, ``session stop``)."""

    require_telemetry: str | None = opt(REQUIRE_TELEMETRY_OPT)
    no_require_telemetry: bool = opt(NO_REQUIRE_TELEMETRY)
    keep_spool: bool = opt(KEEP_SPOOL)
    min_events: int = opt(MIN_EVENTS, 1)
    require_action: list[str] = opt(REQUIRE_ACTION)
    redact_env: list[str] = opt(REDACT_ENV)
    redact_pattern: list[str] = opt(REDACT_PATTERN)
    forward: list[str] = opt(FORWARD)
    forward_endpoint: str | None = opt(FORWARD_ENDPOINT)
    forward_protocol: str | None = opt(FORWARD_PROTOCOL)
    forward_header: list[str] = opt(FORWARD_HEADER)
    rules: list[str] = opt(RULES)
    no_rules: bool = opt(NO_RULES)
    fail_on: str | None = opt(FAIL_ON)
    budget: list[str] = opt(BUDGET)


@dataclass
class ExecArgs(FinishFields):
    """``ci exec``."""

    command: list[str] = argument("The command to run (after --).")
    base_dir: Path | None = opt(BASE_DIR)
    log_path: Path | None = opt(LOG_PATH)
    protocol: str = opt(PROTOCOL, "http/protobuf")
    receivers: str | None = opt(RECEIVERS)
    harness: list[str] = opt(HARNESS)
    no_traces: bool = opt(NO_TRACES)
    no_prompts: bool = opt(NO_PROMPTS)
    no_tool_details: bool = opt(NO_TOOL_DETAILS)
    timeout: str | None = opt(
        Option(
            ("--timeout",),
            "value",
            "Kill the command after this long (e.g. 600, 10m); exit 124.",
            "DURATION",
        )
    )
    drain_quiet: str = opt(DRAIN_QUIET, "0.2")
    drain_max: str = opt(DRAIN_MAX, "5")
    fsync: str = opt(FSYNC, "batch")
    json_output: bool = opt(JSON_OUTPUT)
    quiet: bool = opt(QUIET)


@dataclass
class StartArgs:
    """``ci session start`` (alias ``ci start``)."""

    base_dir: Path | None = opt(BASE_DIR)
    log_path: Path | None = opt(LOG_PATH)
    protocol: str = opt(PROTOCOL, "http/protobuf")
    receivers: str | None = opt(RECEIVERS)
    harness: list[str] = opt(HARNESS)
    no_traces: bool = opt(NO_TRACES)
    no_prompts: bool = opt(NO_PROMPTS)
    no_tool_details: bool = opt(NO_TOOL_DETAILS)
    max_duration: str = opt(
        Option(
            ("--max-duration",),
            "value",
            "The daemon exits after this long (e.g. 6h, 30m, 90).",
            "DURATION",
        ),
        "6h",
    )
    drain_quiet: str = opt(DRAIN_QUIET, "0.2")
    drain_max: str = opt(DRAIN_MAX, "5")
    fsync: str = opt(FSYNC, "batch")
    reuse: bool = opt(
        Option(("--reuse",), "flag", "Succeed with the running session instead of failing.")
    )
    json_output: bool = opt(JSON_OUTPUT)
    quiet: bool = opt(QUIET)


@dataclass
class StopArgs(FinishFields):
    """``ci session stop`` (alias ``ci finish``)."""

    base_dir: Path | None = opt(BASE_DIR)
    log_path: Path | None = opt(LOG_PATH)
    json_output: bool = opt(JSON_OUTPUT)
    quiet: bool = opt(QUIET)


@dataclass
class UploadArgs(UploadFields):
    """``ci upload``."""

    base_dir: Path | None = opt(BASE_DIR)
    log_path: Path | None = opt(LOG_PATH)
    session_id: str | None = opt(
        Option(
            ("--session-id",),
            "value",
            "The run to upload [default: the one in <base-dir>/result.json].",
            "ID",
        )
    )
    json_output: bool = opt(JSON_OUTPUT)
    quiet: bool = opt(QUIET)


@dataclass
class EnvArgs:
    """``ci session env``."""

    base_dir: Path | None = opt(BASE_DIR)
    fmt: str = opt(
        Option(("--format",), "value", "sh, fish, dotenv, json or github.", "FORMAT"), "sh"
    )


@dataclass
class StatusArgs:
    """``ci session status``."""

    base_dir: Path | None = opt(BASE_DIR)
    json_output: bool = opt(JSON_OUTPUT)


@dataclass
class ValidateArgs:
    """``ci validate``."""

    log_path: Path | None = opt(LOG_PATH)
    session_id: str | None = opt(SESSION_ID)
    min_events: int = opt(MIN_EVENTS, 1)
    harness: list[str] = opt(HARNESS)
    require_action: list[str] = opt(REQUIRE_ACTION)
    json_output: bool = opt(JSON_OUTPUT)


@dataclass
class ScanArgs:
    """``ci scan``."""

    log_path: Path | None = opt(LOG_PATH)
    session_id: str | None = opt(SESSION_ID)
    rules: list[str] = opt(RULES)
    no_rules: bool = opt(NO_RULES)
    fail_on: str | None = opt(FAIL_ON)
    budget: list[str] = opt(BUDGET)
    json_output: bool = opt(JSON_OUTPUT)
    quiet: bool = opt(QUIET)


@dataclass
class RulesTestArgs:
    """``rules test``."""

    command: list[str] = argument(
        "Rule files or directories ('builtin': beacon's pack); --json may follow them."
    )
    json_output: bool = opt(JSON_OUTPUT)


@dataclass
class RulesLintArgs:
    """``rules lint``."""

    command: list[str] = argument("Rule files or directories ('builtin': beacon's pack).")


@dataclass
class ReportArgs:
    """``ci report``."""

    base_dir: Path | None = opt(BASE_DIR)
    log_path: Path | None = opt(LOG_PATH)
    session_id: str | None = opt(
        Option(
            ("--session-id",),
            "value",
            "The beacon run to report (default: the most recent run in the log).",
            "ID",
        )
    )
    fmt: str = opt(
        Option(("--format",), "value", "text (default), markdown, json or html.", "FORMAT"),
        "text",
    )
    output: Path | None = opt(
        Option(("--output",), "path", "Write the report to this file instead of stdout.", "FILE")
    )


FLEET_SOURCE = Option(
    ("--source",),
    "value",
    "s3://bucket/prefix, gs://bucket/prefix, or a local directory of downloaded runs.",
    "SRC",
)
FLEET_CACHE_DIR = Option(
    ("--cache-dir",),
    "path",
    "Where remote objects are cached (default: $BEACON_FLEET_CACHE, else ~/.cache/beacon/fleet).",
    "DIR",
)
FLEET_OUTPUT = Option(("--output",), "path", "Write to this file instead of stdout.", "FILE")


@dataclass
class FleetReportArgs:
    """``fleet report``."""

    source: str | None = opt(FLEET_SOURCE)
    since: str | None = opt(
        Option(("--since",), "value", "First day of runs to include.", "YYYY-MM-DD")
    )
    until: str | None = opt(
        Option(("--until",), "value", "Last day of runs to include.", "YYYY-MM-DD")
    )
    repo: str | None = opt(Option(("--repo",), "value", "Only this repository.", "OWNER/NAME"))
    workflow: str | None = opt(Option(("--workflow",), "value", "Only this workflow.", "NAME"))
    provider: str | None = opt(
        Option(("--provider",), "value", "Only this CI provider (github_actions, ...).", "NAME")
    )
    harness: str | None = opt(
        Option(("--harness",), "value", "Only runs of this harness (claude_code, ...).", "NAME")
    )
    model: str | None = opt(
        Option(("--model",), "value", "Only runs that used this model.", "NAME")
    )
    fmt: str = opt(
        Option(
            ("--format",), "value", "text, markdown, json, html or csv (one row per run).", "FORMAT"
        ),
        "text",
    )
    output: Path | None = opt(FLEET_OUTPUT)
    cache_dir: Path | None = opt(FLEET_CACHE_DIR)


@dataclass
class FleetSqlArgs:
    """``fleet sql``."""

    command: list[str] = argument(
        "SQL over the views `events` and `runs` (docs/fleet.md lists their columns).", "QUERY"
    )
    source: str | None = opt(FLEET_SOURCE)
    fmt: str = opt(
        Option(("--format",), "value", "table, json (one object per row) or csv.", "FORMAT"),
        "table",
    )
    output: Path | None = opt(FLEET_OUTPUT)
    cache_dir: Path | None = opt(FLEET_CACHE_DIR)


@dataclass
class FleetDdlArgs:
    """``fleet ddl``."""

    engine: str = opt(Option(("--engine",), "value", "athena or bigquery.", "ENGINE"), "athena")
    layout: str = opt(
        Option(("--layout",), "value", "The upload layout: default or hive.", "LAYOUT"), "default"
    )
    location: str | None = opt(
        Option(
            ("--location",),
            "value",
            "Where the runs are: s3://bucket/prefix (Athena), gs://bucket/prefix (BigQuery).",
            "URL",
        )
    )


@dataclass(frozen=True)
class CommandSpec:
    """One command: where it sits, what it parses into, what runs it, its help.

    ``runner`` is ``module:function`` (imported only when the command runs);
    the function takes the parsed ``args`` object and returns the exit code.
    """

    path: tuple[str, ...]
    args: type
    runner: str
    help: str
    aliases: tuple[tuple[str, ...], ...] = ()

    @property
    def takes_command(self) -> bool:
        return any(ARGUMENT in f.metadata for f in fields(self.args))

    def options(self) -> list[tuple[str, Option, object]]:
        """(field name, option, default): the command's own options first, then the shared
        groups it inherits (``FinishFields``, ``UploadFields``), each in declaration order."""
        mro = self.args.__mro__

        def declared_at(name: str) -> int:
            return next(
                i for i, cls in enumerate(mro) if name in vars(cls).get("__annotations__", {})
            )

        out: list[tuple[str, Option, object]] = []
        for f in sorted(fields(self.args), key=lambda f: declared_at(f.name)):
            option = f.metadata.get(OPTION)
            if option is not None:
                default = [] if f.default is dataclasses.MISSING else f.default
                out.append((f.name, option, default))
        return out

    def argument_help(self) -> str | None:
        for f in fields(self.args):
            if ARGUMENT in f.metadata:
                return str(f.metadata[ARGUMENT])
        return None

    def argument_metavar(self) -> str:
        for f in fields(self.args):
            if ARGUMENT in f.metadata:
                return str(f.metadata.get(ARGUMENT_METAVAR, COMMAND_METAVAR))
        return COMMAND_METAVAR

    @property
    def wraps_command(self) -> bool:
        """Its positional words are a command to run, after ``--``."""
        return self.takes_command and self.argument_metavar() == COMMAND_METAVAR


EXEC_HELP = """Run CMD with its telemetry captured, then write and validate runtime.jsonl.

Exit code: the command's own when non-zero (128+N when killed by signal N);
124 when --timeout expired; else 7 when a rule finding is at or above
--fail-on; else 3 when validation failed and telemetry is required; 4 when an
--upload or --forward failed (unless --upload-required=false); 5 when beacon
itself failed; 0 otherwise."""

VALIDATE_HELP = """Validate runtime.jsonl: it parses, matches the runtime schema 1.0, and holds
enough events of this run (see docs/validation.md).

Exit code: 0 when validation is ok or warn, 3 when it fails, 2 on bad usage."""

SCAN_HELP = """Evaluate detection rules and budgets over one run of runtime.jsonl
(see docs/rules.md).

Exit code: 7 when a finding is at or above --fail-on, 2 on bad usage or a bad
rule file, 0 otherwise."""

REPORT_HELP = """Report what the agent did in one run: duration, verdict, cost and tokens
per model, API requests, tools, commands, files, approvals, prompts, redactions and
findings (see docs/report.md). Reads runtime.jsonl and the result.json beside it.

Markdown on GitHub Actions (GITHUB_STEP_SUMMARY set, no --output) is appended to
the job summary; the step outputs go to GITHUB_OUTPUT when it is set.

Exit code: 0 when the report was made, 2 on bad usage or a log without a run."""

#: Command groups and their help.
GROUPS: dict[tuple[str, ...], str] = {
    ("ci",): "Commands for CI jobs.",
    ("rules",): "Detection rules: run their embedded tests, lint them (docs/rules.md).",
    ("ci", "session"): "A collector that outlives one step: start, run steps, stop.",
    ("fleet",): "Reports and SQL over many runs' uploaded logs (DuckDB).",
}

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("ci", "exec"), ExecArgs, "beacon.cli.exec_flow:run_exec", EXEC_HELP),
    CommandSpec(
        ("ci", "session", "start"),
        StartArgs,
        "beacon.cli.session_flow:run_start",
        "Start the session daemon and export its environment to later steps.",
        aliases=(("ci", "start"),),
    ),
    CommandSpec(
        ("ci", "session", "env"),
        EnvArgs,
        "beacon.cli.session_flow:run_env",
        'Print the running session\'s exports (eval "$(beacon ci session env)").',
    ),
    CommandSpec(
        ("ci", "session", "status"),
        StatusArgs,
        "beacon.cli.session_flow:run_status",
        "Report the session: alive, pid, endpoints, records received.",
    ),
    CommandSpec(
        ("ci", "session", "stop"),
        StopArgs,
        "beacon.cli.session_flow:run_stop",
        "Drain and stop the daemon, then write and validate runtime.jsonl.",
        aliases=(("ci", "finish"),),
    ),
    CommandSpec(
        ("ci", "upload"),
        UploadArgs,
        "beacon.cli.session_flow:run_upload",
        "Upload a finished run (its runtime.jsonl lines, report and result.json) to S3 or GCS.",
    ),
    CommandSpec(
        ("ci", "validate"), ValidateArgs, "beacon.cli.validate_flow:run_validate", VALIDATE_HELP
    ),
    CommandSpec(("ci", "scan"), ScanArgs, "beacon.cli.rules_flow:run_scan", SCAN_HELP),
    CommandSpec(
        ("rules", "test"),
        RulesTestArgs,
        "beacon.cli.rules_flow:run_rules_test",
        "Run every rule's embedded tests. Exit 0 all pass, 1 a test failed, 2 a file is "
        "invalid. With --json the last stdout line is the results object.",
    ),
    CommandSpec(
        ("rules", "lint"),
        RulesLintArgs,
        "beacon.cli.rules_flow:run_rules_lint",
        "Check rule files: YAML, known fields, CEL, windows, ids. Exit 2 when one is bad.",
    ),
    CommandSpec(("ci", "report"), ReportArgs, "beacon.cli.report_flow:run_report", REPORT_HELP),
    CommandSpec(
        ("fleet", "report"),
        FleetReportArgs,
        "beacon.cli.fleet_flow:run_report",
        "Runs, cost, tokens, failures, findings, commands and files across many runs.",
    ),
    CommandSpec(
        ("fleet", "sql"),
        FleetSqlArgs,
        "beacon.cli.fleet_flow:run_sql",
        "Run SQL over the fleet's views `events` and `runs`.",
    ),
    CommandSpec(
        ("fleet", "ddl"),
        FleetDdlArgs,
        "beacon.cli.fleet_flow:run_ddl",
        "Print the Athena or BigQuery table definition for uploaded runs.",
    ),
)


def _check_table() -> None:
    for spec in COMMANDS:
        for f in fields(spec.args):
            if OPTION not in f.metadata and ARGUMENT not in f.metadata:
                raise AssertionError(f"{spec.args.__name__}.{f.name} has no Option")
        names = [name for _, option, _ in spec.options() for name in option.names]
        if len(names) != len(set(names)):
            raise AssertionError(f"{' '.join(spec.path)}: an option name is used twice")


_check_table()
