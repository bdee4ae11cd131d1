"""Validation of runtime.jsonl for one beacon run (shared by exec, session stop, ci validate).

Stages, each ``ok`` / ``warn`` / ``fail`` with a message (docs/validation.md):

1. ``log_exists``      the file exists and is readable
2. ``lines_parse``     every line is a JSON object
3. ``schema``          every line matches the shipped JSON Schema
4. ``session``         the run's lines are present (``beacon.session_id``)
5. ``harness_events``  at least ``min_events`` lines of the wanted harnesses in this run
                       (beacon's own lifecycle lines and the summary never count)
6. ``require_actions`` each required action occurs in this run
7. ``spool_health``    truncated spool tail, unreadable spool lines, exports the
                       collector rejected, gaps in Claude's ``event.sequence`` -> warnings

The whole file is read for stages 2-3, but only this run's lines (selected by
``beacon.session_id``) can fail them: another run's damage (a line torn by a
killed writer, a line off the schema) is a ``warn`` that names it. A line that
does not parse carries no session id, so it counts as this run's only where
this run wrote it (the pipeline checks the bytes it appends). Stages 4-7 only
look at this run's lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NamedTuple

import orjson

from beacon.pipeline.jsonl import iter_lines
from beacon.pipeline.schemacheck import Check, compile_check

Status = Literal["ok", "warn", "fail"]
_RANK: dict[str, int] = {"ok": 0, "warn": 1, "fail": 2}
SCHEMA_RESOURCE = "runtime-1.0.schema.json"
LIFECYCLE_HARNESS = "beacon"
SUMMARY_ACTION = "session.summary"
LIFECYCLE_STOPPED = "beacon.collector.stopped"
_MAX_GAP_DETAILS = 3


@dataclass(frozen=True)
class SpoolHealth:
    """What reading the spool found (from ``SpoolReader`` after iteration)."""

    truncated_tail: bool = False
    bad_lines: int = 0
    missing: bool = False


@dataclass(frozen=True)
class ValidationStage:
    name: str
    status: Status
    message: str


@dataclass(frozen=True)
class ValidationResult:
    status: Status
    log_path: str
    event_count: int
    stages: tuple[ValidationStage, ...]
    generated_at: str
    actions: dict[str, int] = field(default_factory=dict)
    session_id: str | None = None
    harness_events: dict[str, int] = field(default_factory=dict)
    """Events per harness asked for (the ``harness_events`` stage, counted per harness)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "log_path": self.log_path,
            "event_count": self.event_count,
            "stages": [
                {"name": s.name, "status": s.status, "message": s.message} for s in self.stages
            ],
            "generated_at": self.generated_at,
            "actions": dict(self.actions),
            "session_id": self.session_id,
            "harness_events": dict(self.harness_events),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationResult:
        """The inverse of ``to_dict`` (a result computed in another process)."""
        return cls(
            status=data["status"],
            log_path=data["log_path"],
            event_count=int(data["event_count"]),
            stages=tuple(
                ValidationStage(s["name"], s["status"], s["message"]) for s in data["stages"]
            ),
            generated_at=data["generated_at"],
            actions={str(k): int(v) for k, v in data["actions"].items()},
            session_id=data["session_id"],
            harness_events={str(k): int(v) for k, v in data.get("harness_events", {}).items()},
        )

    @property
    def ok(self) -> bool:
        return self.status != "fail"


@cache
def load_schema() -> dict[str, Any]:
    text = resources.files("beacon").joinpath("schema", SCHEMA_RESOURCE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def schema_check() -> Check:
    """The fast yes/no check (compiled once per process): see ``schemacheck``."""
    return compile_check(load_schema())


@cache
def schema_validator() -> Any:
    """fastjsonschema's validator, for the message of a line that fails (compiled on
    first use: ~0.1 s)."""
    import fastjsonschema

    return fastjsonschema.compile(load_schema())


def validate_line(line: Any) -> str | None:
    """None if ``line`` matches the schema, else the first error message."""
    if schema_check()(line):
        return None
    import fastjsonschema

    try:
        schema_validator()(line)
    except fastjsonschema.JsonSchemaException as exc:
        return str(exc)
    # The two checks disagree (tests/pipeline/test_schemacheck.py holds them equal):
    # fastjsonschema is the reference.
    return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _get(line: Mapping[str, Any], *path: str) -> Any:
    node: Any = line
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


class SequenceSet:
    """Distinct ints, mostly as bits of a bitmap: a million Claude sequences (0..n) take
    125 KB where a set of ints takes ~60 MB. Values outside the bitmap go to a set."""

    _BITMAP_LIMIT = 1 << 27  # at most 16 MB of bitmap, however large a sequence claims to be

    def __init__(self) -> None:
        self._bits = bytearray()
        self._others: set[int] = set()
        self.count = 0
        self.max: int | None = None

    def add(self, value: int) -> None:
        if self.max is None or value > self.max:
            self.max = value
        if 0 <= value < self._BITMAP_LIMIT:
            index, bit = value >> 3, 1 << (value & 7)
            bits = self._bits
            if index >= len(bits):
                # Grow geometrically: sequences arrive in increasing order.
                bits.extend(bytes(max(index + 1 - len(bits), len(bits))))
            if not bits[index] & bit:
                bits[index] |= bit
                self.count += 1
        elif value not in self._others:
            self._others.add(value)
            self.count += 1


class LineFacts(NamedTuple):
    """What counting needs of a valid line that is neither a summary nor a
    collector-stopped line (those are counted from the parsed line)."""

    session_id: str | None
    action: str
    harness: str
    sequence: int | None
    claude_session: str | None


@dataclass
class _RunCounts:
    """What validation needs from the lines of one run (small, whatever the run size)."""

    run_lines: int = 0
    matching: int = 0
    by_harness: dict[str, int] = field(default_factory=dict)
    """``matching`` per harness asked for."""
    actions: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    sequences: dict[str, SequenceSet] = field(default_factory=dict)
    spool: dict[str, Any] = field(default_factory=dict)
    schema_errors: list[tuple[int, str]] = field(default_factory=list)
    """The first of this run's lines that does not match the schema (number, error)."""
    schema_error_count: int = 0

    def add_schema_error(self, number: int, error: str) -> None:
        self.schema_error_count += 1
        if not self.schema_errors:
            self.schema_errors.append((number, error))

    def add_sequence(self, claude_session: str, sequence: int) -> None:
        seen = self.sequences.get(claude_session)
        if seen is None:
            seen = self.sequences[claude_session] = SequenceSet()
        seen.add(sequence)


@dataclass
class _PartRunCounts(_RunCounts):
    """A chunk's counts (``LogScan.part``): sequences kept as lists, to be merged."""

    sequence_lists: dict[str, list[int]] = field(default_factory=dict)

    def add_sequence(self, claude_session: str, sequence: int) -> None:
        self.sequence_lists.setdefault(claude_session, []).append(sequence)


@dataclass
class LogScan:
    """Everything one pass over the file collects, one line at a time.

    ``LogScan.part`` checks a chunk of lines about to be appended (numbered from
    1 within the chunk); ``absorb`` adds such a chunk's findings, in file order,
    to the scan of the whole file. The verdict is the one a single pass over the
    file gives, because each line is checked from the very bytes that are written.
    """

    session_id: str | None = None
    harnesses: tuple[str, ...] = ("claude_code",)
    own_lines: bool = False
    """Every line added is one this run wrote (a part): one that does not parse is ours."""
    lines: int = 0
    bad_json: list[int] = field(default_factory=list)
    """This run's lines that are not JSON objects (first five)."""
    bad_json_count: int = 0
    other_bad_json: list[int] = field(default_factory=list)
    """Lines not written by this run that are not JSON objects (first five)."""
    other_bad_json_count: int = 0
    other_schema_errors: list[tuple[int, str]] = field(default_factory=list)
    other_schema_error_count: int = 0
    last_session: str | None = None
    run: _RunCounts = field(default_factory=_RunCounts)
    # The typed fast path (``typedcheck.facts_decoder``): None, or what counting needs
    # from a line it proved valid. None answers send the line to the usual check.
    typed: Callable[[bytes], LineFacts | None] | None = field(default=None, repr=False)

    @classmethod
    def part(
        cls,
        session_id: str,
        harnesses: tuple[str, ...],
        typed: Callable[[bytes], LineFacts | None] | None = None,
    ) -> LogScan:
        return cls(
            session_id=session_id,
            harnesses=harnesses,
            own_lines=True,
            run=_PartRunCounts(),
            typed=typed,
        )

    def add(self, number: int, raw_line: bytes) -> None:
        """Check one line (``number``: its line number in the file, or in the chunk)."""
        if self.typed is not None:
            facts = self.typed(raw_line)
            if facts is not None:
                self._add_valid(facts)
                return
        self.lines += 1
        try:
            line = orjson.loads(raw_line)
        except orjson.JSONDecodeError:
            line = None
        if not isinstance(line, dict):
            if self.own_lines:
                self.bad_json_count += 1
                if len(self.bad_json) < 5:
                    self.bad_json.append(number)
            else:
                self.other_bad_json_count += 1
                if len(self.other_bad_json) < 5:
                    self.other_bad_json.append(number)
            return
        error = validate_line(line)
        line_session = _get(line, "beacon", "session_id")
        if not isinstance(line_session, str):
            if error is not None:
                self._add_other_schema_error(number, error)
            return
        if self.session_id is None:
            # The most recent run is the last line's: restart counting when the run changes.
            if line_session != self.last_session:
                self._start_run(line_session)
        elif line_session != self.session_id:
            if error is not None:
                self._add_other_schema_error(number, error)
            return
        if error is not None:
            self.run.add_schema_error(number, error)
        _count(self.run, line, self.harnesses)

    def _start_run(self, line_session: str) -> None:
        """The file moved on to another run: the last one's errors become other runs'."""
        self.last_session = line_session
        for other in self.run.schema_errors:
            self._add_other_schema_error(*other, count=self.run.schema_error_count)
        self.run = _RunCounts()

    def _add_other_schema_error(self, number: int, error: str, count: int = 1) -> None:
        self.other_schema_error_count += count
        if not self.other_schema_errors:
            self.other_schema_errors.append((number, error))

    def _add_valid(self, facts: LineFacts) -> None:
        """Count a line the typed check proved valid, as ``add`` would count it."""
        self.lines += 1
        line_session = facts.session_id
        if line_session is None:
            return
        if self.session_id is None:
            if line_session != self.last_session:
                self._start_run(line_session)
        elif line_session != self.session_id:
            return
        run = self.run
        run.run_lines += 1
        action, harness = facts.action, facts.harness
        run.actions[action] = run.actions.get(action, 0) + 1
        if harness in self.harnesses and harness != LIFECYCLE_HARNESS and action != SUMMARY_ACTION:
            run.matching += 1
            run.by_harness[harness] = run.by_harness.get(harness, 0) + 1
        if facts.sequence is not None and harness == "claude_code":
            claude_session = facts.claude_session
            run.add_sequence("?" if claude_session is None else claude_session, facts.sequence)

    @property
    def chosen(self) -> str | None:
        return self.session_id if self.session_id is not None else self.last_session

    def to_wire(self) -> dict[str, Any]:
        """A part's findings as JSON-able data (it is computed in another process)."""
        run = self.run
        assert isinstance(run, _PartRunCounts), "only parts travel"
        return {
            "lines": self.lines,
            "bad_json": self.bad_json,
            "bad_json_count": self.bad_json_count,
            "schema_errors": run.schema_errors,
            "schema_error_count": run.schema_error_count,
            "other_schema_errors": self.other_schema_errors,
            "other_schema_error_count": self.other_schema_error_count,
            "run_lines": run.run_lines,
            "matching": run.matching,
            "by_harness": run.by_harness,
            "actions": run.actions,
            "rejected": run.rejected,
            "sequences": run.sequence_lists,
            "spool": run.spool,
        }

    def absorb(self, part: Mapping[str, Any], line_offset: int) -> None:
        """Add a part's findings (``to_wire``) whose line 1 is file line ``line_offset + 1``."""
        if self.session_id is None:
            raise ValueError("parts can only be merged into the scan of one known run")
        self.lines += part["lines"]
        for number in part["bad_json"]:
            if len(self.bad_json) < 5:
                self.bad_json.append(line_offset + number)
        self.bad_json_count += part["bad_json_count"]
        run = self.run
        if part["schema_errors"] and not run.schema_errors:
            number, error = part["schema_errors"][0]
            run.schema_errors.append((line_offset + number, error))
        run.schema_error_count += part["schema_error_count"]
        if part["other_schema_errors"] and not self.other_schema_errors:
            number, error = part["other_schema_errors"][0]
            self.other_schema_errors.append((line_offset + number, error))
        self.other_schema_error_count += part["other_schema_error_count"]
        run.run_lines += part["run_lines"]
        run.matching += part["matching"]
        for table, counts in (
            (run.actions, part["actions"]),
            (run.rejected, part["rejected"]),
            (run.by_harness, part["by_harness"]),
        ):
            for key, value in counts.items():
                table[key] = table.get(key, 0) + value
        for claude_session, values in part["sequences"].items():
            for value in values:
                run.add_sequence(claude_session, value)
        if part["spool"]:
            run.spool = dict(part["spool"])


def _scan(
    log_path: Path,
    session_id: str | None,
    harnesses: tuple[str, ...],
    lines: Iterable[tuple[int, bytes]] | None = None,
) -> tuple[LogScan, str | None]:
    scan = LogScan(session_id=session_id, harnesses=harnesses)
    for number, raw_line in iter_lines(log_path) if lines is None else lines:
        scan.add(number, raw_line)
    return scan, scan.chosen


def _count(run: _RunCounts, line: Mapping[str, Any], harnesses: tuple[str, ...]) -> None:
    """Count one line of the run. Direct lookups: this runs once per line of big logs.
    ``LogScan._add_valid`` counts the typed check's lines the same way: change both
    (tests/pipeline/test_typedcheck.py compares them)."""
    run.run_lines += 1
    event = line.get("event")
    action = event.get("action") if isinstance(event, dict) else None
    if isinstance(action, str):
        run.actions[action] = run.actions.get(action, 0) + 1
    harness_info = line.get("harness")
    harness = harness_info.get("name") if isinstance(harness_info, dict) else None
    if harness in harnesses and harness != LIFECYCLE_HARNESS and action != SUMMARY_ACTION:
        run.matching += 1
        run.by_harness[harness] = run.by_harness.get(harness, 0) + 1
    beacon = line.get("beacon")
    if not isinstance(beacon, dict):
        return
    source = beacon.get("source")
    if isinstance(source, dict):
        if source.get("event_name") == LIFECYCLE_STOPPED:
            raw = line.get("raw")
            if isinstance(raw, dict):
                for key, value in raw.items():
                    if key.startswith("rejected.") and isinstance(value, int):
                        run.rejected[key] = run.rejected.get(key, 0) + value
        sequence = source.get("sequence")
        if isinstance(sequence, int) and harness == "claude_code":
            session = line.get("session")
            claude_session = session.get("id") if isinstance(session, dict) else None
            run.add_sequence(claude_session if isinstance(claude_session, str) else "?", sequence)
    summary = beacon.get("summary")
    if isinstance(summary, dict):
        spool = summary.get("spool")
        if isinstance(spool, dict):
            run.spool = dict(spool)


def _sequence_gaps(sequences: Mapping[str, SequenceSet]) -> list[str]:
    problems: list[str] = []
    for claude_session, seen in sequences.items():
        if seen.max is None:
            continue
        expected = seen.max + 1  # Claude numbers events from 0 in each process
        missing = expected - seen.count
        if missing > 0:
            problems.append(
                f"Claude session {claude_session}: {missing} of {expected} events missing "
                "(event.sequence gaps)"
            )
    return problems


def _worst(stages: list[ValidationStage]) -> Status:
    worst: Status = "ok"
    for stage in stages:
        if _RANK[stage.status] > _RANK[worst]:
            worst = stage.status
    return worst


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def validate_log(
    log_path: Path,
    *,
    session_id: str | None,
    harnesses: tuple[str, ...] = ("claude_code",),
    min_events: int = 1,
    require_actions: tuple[str, ...] = (),
    spool_health: SpoolHealth | Callable[[], SpoolHealth | None] | None = None,
    lines: Iterable[tuple[int, bytes]] | None = None,
) -> ValidationResult:
    """Check ``log_path`` for the run ``session_id`` (None: the most recent run in the file).

    ``lines``: the file's numbered lines when the caller reads them itself; default:
    read ``log_path``.
    ``spool_health`` may be a callable, asked once every line has been read.
    """
    log_path = Path(log_path)
    stages: list[ValidationStage] = []

    def finish(event_count: int, actions: dict[str, int], chosen: str | None) -> ValidationResult:
        return ValidationResult(
            status=_worst(stages),
            log_path=str(log_path),
            event_count=event_count,
            stages=tuple(stages),
            generated_at=_now(),
            actions=actions,
            session_id=chosen,
        )

    if not log_path.is_file():
        stages.append(ValidationStage("log_exists", "fail", f"{log_path} does not exist"))
        return finish(0, {}, session_id)
    try:
        scan, _ = _scan(log_path, session_id, harnesses, lines)
    except OSError as exc:
        stages.append(
            ValidationStage("log_exists", "fail", f"cannot read {log_path}: {exc.strerror or exc}")
        )
        return finish(0, {}, session_id)
    return verdict(
        log_path,
        scan,
        min_events=min_events,
        require_actions=require_actions,
        spool_health=spool_health,
    )


def harness_events_stage(
    run: _RunCounts, harnesses: tuple[str, ...], min_events: int
) -> ValidationStage:
    """At least ``min_events`` events of the harnesses asked for, and, when several were
    asked for, at least one from each: a silent agent is named."""
    wanted = ", ".join(harnesses) or "none"
    message = f"{_plural(run.matching, 'event')} from {wanted} in this run (minimum {min_events})"
    ok = run.matching >= min_events
    asked = [name for name in harnesses if name != LIFECYCLE_HARNESS]
    if len(asked) > 1:
        counts = ", ".join(f"{name} {run.by_harness.get(name, 0)}" for name in asked)
        message = f"{message}: {counts}"
        silent = [name for name in asked if run.by_harness.get(name, 0) == 0]
        if silent and min_events > 0:
            ok = False
            message = f"{message}; no events from {', '.join(silent)}"
    return ValidationStage("harness_events", "ok" if ok else "fail", message)


def _lines_parse_stage(scan: LogScan) -> ValidationStage:
    if scan.bad_json:
        first = ", ".join(str(n) for n in scan.bad_json[:5])
        return ValidationStage(
            "lines_parse",
            "fail",
            f"{_plural(scan.bad_json_count, 'line')} of this run not a JSON object (line {first})",
        )
    if scan.other_bad_json:
        first = ", ".join(str(n) for n in scan.other_bad_json[:5])
        return ValidationStage(
            "lines_parse",
            "warn",
            f"{_plural(scan.other_bad_json_count, 'line')} not a JSON object (line {first}): "
            "not this run's lines (another run's damage, such as a line torn by a killed writer)",
        )
    return ValidationStage("lines_parse", "ok", "every line is a JSON object")


def _schema_stage(scan: LogScan) -> ValidationStage:
    if scan.run.schema_errors:
        number, error = scan.run.schema_errors[0]
        count = scan.run.schema_error_count
        return ValidationStage(
            "schema",
            "fail",
            f"{_plural(count, 'line')} of this run do not match the runtime schema "
            f"1.0 (line {number}: {error})",
        )
    if scan.other_schema_errors:
        number, error = scan.other_schema_errors[0]
        count = scan.other_schema_error_count
        return ValidationStage(
            "schema",
            "warn",
            f"{_plural(count, 'line')} of other runs do not match the runtime schema 1.0 "
            f"(line {number}: {error})",
        )
    return ValidationStage("schema", "ok", "every line matches the runtime schema 1.0")


def verdict(
    log_path: Path,
    scan: LogScan,
    *,
    min_events: int = 1,
    require_actions: tuple[str, ...] = (),
    spool_health: SpoolHealth | Callable[[], SpoolHealth | None] | None = None,
) -> ValidationResult:
    """The result for a file whose every line ``scan`` has checked."""
    chosen = scan.chosen
    harnesses = scan.harnesses
    stages: list[ValidationStage] = []
    stages.append(
        ValidationStage("log_exists", "ok", f"{log_path} ({_plural(scan.lines, 'line')})")
    )

    stages.append(_lines_parse_stage(scan))
    stages.append(_schema_stage(scan))

    if chosen is None:
        stages.append(ValidationStage("session", "fail", "no beacon run found in the log"))
    elif scan.run.run_lines == 0:
        stages.append(
            ValidationStage("session", "fail", f"no lines of beacon run {chosen} in the log")
        )
    else:
        stages.append(
            ValidationStage(
                "session", "ok", f"beacon run {chosen}: {_plural(scan.run.run_lines, 'line')}"
            )
        )

    stages.append(harness_events_stage(scan.run, harnesses, min_events))

    if require_actions:
        missing = [a for a in require_actions if scan.run.actions.get(a, 0) == 0]
        if missing:
            stages.append(
                ValidationStage(
                    "require_actions", "fail", f"missing required actions: {', '.join(missing)}"
                )
            )
        else:
            stages.append(
                ValidationStage(
                    "require_actions",
                    "ok",
                    f"all required actions present: {', '.join(require_actions)}",
                )
            )

    if callable(spool_health):
        spool_health = spool_health()
    health = spool_health or SpoolHealth(
        truncated_tail=bool(scan.run.spool.get("truncated_tail", False)),
        bad_lines=int(scan.run.spool.get("bad_lines", 0) or 0),
        missing=bool(scan.run.spool.get("missing", False)),
    )
    problems: list[str] = []
    if health.missing:
        problems.append("the spool was missing (nothing was captured)")
    if health.truncated_tail:
        problems.append("the spool ended with a partial line (a writer was interrupted)")
    if health.bad_lines:
        problems.append(f"{_plural(health.bad_lines, 'spool line')} could not be read")
    rejected = {k: v for k, v in scan.run.rejected.items() if v}
    if rejected:
        detail = ", ".join(
            f"{k.removeprefix('rejected.')}={v}" for k, v in sorted(rejected.items())
        )
        problems.append(f"the collector rejected exports ({detail})")
    gaps = _sequence_gaps(scan.run.sequences)
    problems.extend(gaps[:_MAX_GAP_DETAILS])
    if len(gaps) > _MAX_GAP_DETAILS:
        problems.append(f"and {len(gaps) - _MAX_GAP_DETAILS} more sessions with gaps")
    if problems:
        stages.append(ValidationStage("spool_health", "warn", "; ".join(problems)))
    else:
        stages.append(ValidationStage("spool_health", "ok", "no loss detected"))

    return ValidationResult(
        status=_worst(stages),
        log_path=str(log_path),
        event_count=scan.run.matching,
        stages=tuple(stages),
        generated_at=_now(),
        actions=dict(sorted(scan.run.actions.items())),
        session_id=chosen,
        harness_events={
            name: scan.run.by_harness.get(name, 0)
            for name in harnesses
            if name != LIFECYCLE_HARNESS
        },
    )
