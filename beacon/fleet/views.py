"""DuckDB over a fleet's local files: the ``events`` and ``runs`` views, and the narrow ``facts``.

- ``events``: every runtime line, typed from the shipped schema (``columns.py``), plus
  ``_object`` (where the line came from). Lazy: each query reads the files.
- ``results``: one row per ``result.json``.
- ``facts``: the handful of fields the fleet report needs, read once (one scan of the
  logs instead of one per figure).
- ``runs``: one row per run (beacon session): its context from the lines' own ``run``
  fields, its figures from ``facts``, its verdict from ``result.json``. A run whose
  ``result.json`` is missing has ``has_result = false``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beacon.fleet.columns import event_columns
from beacon.fleet.source import FleetFiles

#: The top-level fields ``facts`` reads (the JSON reader skips the rest of each line).
FACT_FIELDS = (
    "timestamp",
    "event",
    "harness",
    "model",
    "gen_ai",
    "command",
    "file",
    "run",
    "repository",
    "branch",
    "beacon",
)

FACTS_SQL = r"""
CREATE TABLE facts AS
SELECT
    beacon.session_id AS session_id,
    try_cast("timestamp" AS TIMESTAMPTZ) AS ts,
    event.action AS action,
    beacon.source.signal AS signal,
    harness.name AS harness,
    nullif(regexp_replace(
        coalesce(model, gen_ai.response.model, gen_ai.request.model), '\[[^\]]*\]$', ''
    ), '') AS model,
    gen_ai.usage IS NOT NULL AND beacon.source.signal = 'logs' AS is_request,
    gen_ai.usage.input_tokens AS input_tokens,
    gen_ai.usage.output_tokens AS output_tokens,
    gen_ai.usage.cache_read.input_tokens AS cache_read_tokens,
    gen_ai.usage.cache_creation.input_tokens AS cache_creation_tokens,
    gen_ai.usage.cost_usd AS cost_usd,
    command.command AS command,
    file.path AS file_path,
    gen_ai.tool.call.id AS tool_call_id,
    run.provider AS provider,
    coalesce(run.repository, repository) AS repository,
    run.workflow AS workflow,
    run.job AS job,
    run.run_id AS run_id,
    run.run_attempt AS run_attempt,
    coalesce(run.branch, branch) AS branch,
    run.pr AS pr,
    run.pr_number AS pr_number,
    run."commit" AS "commit",
    run.event_name AS event_name,
    filename AS _object
FROM read_json(
    $files, format = 'newline_delimited', columns = $columns,
    ignore_errors = true, filename = true, maximum_object_size = 67108864,
    hive_partitioning = false
)
WHERE beacon.session_id IS NOT NULL
"""

RUNS_SQL = """
CREATE VIEW runs AS
WITH per_run AS (
    SELECT
        session_id,
        any_value(provider) AS provider,
        any_value(repository) AS repository,
        any_value(workflow) AS workflow,
        any_value(job) AS job,
        any_value(run_id) AS run_id,
        any_value(run_attempt) AS run_attempt,
        any_value(branch) AS branch,
        any_value(pr) AS pr,
        any_value(pr_number) AS pr_number,
        any_value("commit") AS "commit",
        any_value(event_name) AS event_name,
        min(ts) AS started_at,
        max(ts) AS ended_at,
        count(*) AS events,
        count(*) FILTER (is_request) AS api_requests,
        count(*) FILTER (action = 'session.error') AS api_errors,
        coalesce(sum(input_tokens) FILTER (is_request), 0) AS input_tokens,
        coalesce(sum(output_tokens) FILTER (is_request), 0) AS output_tokens,
        coalesce(sum(cache_read_tokens) FILTER (is_request), 0) AS cache_read_tokens,
        coalesce(sum(cache_creation_tokens) FILTER (is_request), 0) AS cache_creation_tokens,
        sum(cost_usd) FILTER (is_request) AS cost_usd,
        count(*) FILTER (is_request AND cost_usd IS NULL) AS requests_without_cost,
        list_sort(list(DISTINCT harness) FILTER (harness IS NOT NULL AND harness <> 'beacon'))
            AS harnesses,
        list_sort(list(DISTINCT model) FILTER (model IS NOT NULL)) AS models,
        count(*) FILTER (action = 'command.executed') AS command_lines,
        count(*) FILTER (action = 'file.modified') AS file_modified_lines,
        any_value(_object) AS log_object
    FROM facts
    GROUP BY session_id
)
SELECT
    coalesce(p.session_id, r.session_id) AS session_id,
    p.* EXCLUDE (session_id),
    r.exit_code,
    r.child_exit_code,
    r.validation_status,
    r.findings,
    r._object AS result_object,
    r.session_id IS NOT NULL AS has_result
FROM per_run p
FULL OUTER JOIN results r ON p.session_id = r.session_id
"""


@dataclass
class LogHealth:
    """Per log file: lines in the file vs lines DuckDB could read (torn or corrupt lines)."""

    torn_logs: list[str]
    bad_lines: int


def connect() -> Any:
    try:
        import duckdb
    except ImportError as exc:
        from beacon.errors import UsageError

        raise UsageError(
            "the fleet view needs DuckDB, which is not installed",
            hint="pip install 'beacon-ci[fleet]'",
        ) from exc

    return duckdb.connect(database=":memory:")


def result_rows(paths: Iterable[Path], origin: dict[str, str]) -> list[tuple[Any, ...]]:
    """``result.json`` files as rows; one that does not parse is kept as a row without fields."""
    rows: list[tuple[Any, ...]] = []
    for path in paths:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("session_id"), str):
            continue
        validation = data.get("validation") if isinstance(data.get("validation"), dict) else {}
        findings = data.get("findings") if isinstance(data.get("findings"), list) else []
        rows.append(
            (
                data["session_id"],
                _int_or_none(data.get("exit_code")),
                _int_or_none(data.get("child_exit_code")),
                (validation or {}).get("status"),
                json.dumps(findings),
                origin.get(str(path), str(path)),
            )
        )
    return rows


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def open_fleet(files: FleetFiles, *, with_facts: bool = True) -> Any:
    """A DuckDB connection with ``events``, ``results`` (and ``facts``/``runs``) ready."""
    con = connect()
    columns = event_columns()
    if files.logs:
        file_list = ", ".join(_literal(str(p)) for p in files.logs)
        column_list = ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in columns.items())
        con.execute(
            "CREATE VIEW events AS SELECT * EXCLUDE (filename), filename AS _object "
            f"FROM read_json([{file_list}], format = 'newline_delimited', "
            f"columns = {{{column_list}}}, ignore_errors = true, filename = true, "
            # Run identity comes from the lines, never from a hive-style key.
            "maximum_object_size = 67108864, hive_partitioning = false) "
            # A line that does not parse comes back as a row of NULLs: leave it out.
            "WHERE beacon.session_id IS NOT NULL"
        )
    else:
        ddl = ", ".join(f'"{k}" {v}' for k, v in columns.items())
        con.execute(f"CREATE TABLE events ({ddl}, _object VARCHAR)")
    con.execute(
        "CREATE TABLE results (session_id VARCHAR, exit_code INTEGER, child_exit_code INTEGER, "
        "validation_status VARCHAR, findings JSON, _object VARCHAR)"
    )
    rows = result_rows(files.results, files.origin)
    if rows:
        con.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?)", rows)
    if with_facts:
        create_facts(con, files)
    return con


def create_facts(con: Any, files: FleetFiles) -> None:
    if files.logs:
        wanted = {k: v for k, v in event_columns().items() if k in FACT_FIELDS}
        con.execute(FACTS_SQL, {"files": [str(p) for p in files.logs], "columns": wanted})
    else:
        _empty_facts(con)
    con.execute(RUNS_SQL)


def _empty_facts(con: Any) -> None:
    wanted = {k: v for k, v in event_columns().items() if k in FACT_FIELDS}
    ddl = ", ".join(f'"{k}" {v}' for k, v in wanted.items())
    con.execute(f"CREATE TEMP TABLE empty_lines ({ddl}, filename VARCHAR)")
    sql = FACTS_SQL.split("FROM read_json")[0] + "FROM empty_lines"
    con.execute(sql)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def log_health(con: Any, files: FleetFiles) -> LogHealth:
    """Lines that did not parse (a torn tail from a killed writer, corruption), per file."""
    parsed = dict(con.execute("SELECT _object, count(*) FROM facts GROUP BY _object").fetchall())
    torn: list[str] = []
    bad = 0
    for path in files.logs:
        data = _read(path)
        if data is None:
            continue
        lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
        if data and not data.endswith(b"\n"):
            torn.append(files.origin.get(str(path), str(path)))
        bad += max(0, lines - int(parsed.get(str(path), 0)))
    return LogHealth(torn_logs=torn, bad_lines=bad)


def _read(path: Path) -> bytes | None:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError):
        return None
