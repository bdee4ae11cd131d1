"""The fleet report's figures: SQL over ``runs`` and ``facts``, returned as plain data.

Cost is never invented: a group whose requests carry no cost (Codex, Gemini) has
``cost_usd`` None ("unknown"), and ``cost_complete`` says whether every request in
the group had one. Commands and files are counted once per tool call: Claude Code
reports each one twice (its log event and its span).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from beacon.errors import UsageError
from beacon.fleet.views import LogHealth

TOP = 20


@dataclass(frozen=True)
class Filters:
    since: dt.date | None = None
    until: dt.date | None = None
    repo: str | None = None
    workflow: str | None = None
    provider: str | None = None
    harness: str | None = None
    model: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause over ``runs`` and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            clauses.append("CAST(started_at AS DATE) >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("CAST(started_at AS DATE) <= ?")
            params.append(self.until)
        for column, value in (
            ("repository", self.repo),
            ("workflow", self.workflow),
            ("provider", self.provider),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.harness is not None:
            clauses.append("list_contains(harnesses, ?)")
            params.append(self.harness)
        if self.model is not None:
            clauses.append("list_contains(models, ?)")
            params.append(self.model)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def to_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}


def parse_date(value: str | None, *, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"invalid date {value!r} for {option}", hint="use YYYY-MM-DD") from exc


@dataclass
class FleetReport:
    source: str
    filters: dict[str, str]
    totals: dict[str, Any]
    by_repository: list[dict[str, Any]] = field(default_factory=list)
    by_workflow: list[dict[str, Any]] = field(default_factory=list)
    by_model: list[dict[str, Any]] = field(default_factory=list)
    by_day: list[dict[str, Any]] = field(default_factory=list)
    by_week: list[dict[str, Any]] = field(default_factory=list)
    by_harness: list[dict[str, Any]] = field(default_factory=list)
    most_expensive_runs: list[dict[str, Any]] = field(default_factory=list)
    findings_by_severity: list[dict[str, Any]] = field(default_factory=list)
    findings_by_rule: list[dict[str, Any]] = field(default_factory=list)
    top_commands: list[dict[str, Any]] = field(default_factory=list)
    top_files: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _rows(con: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


_GROUP_FIGURES = """
    count(*) AS runs,
    count(*) FILTER (validation_status = 'fail') AS failed_validation,
    sum(cost_usd) AS cost_usd,
    bool_and(cost_usd IS NOT NULL AND requests_without_cost = 0) AS cost_complete,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_creation_tokens) AS cache_creation_tokens,
    sum(api_requests) AS api_requests,
    sum(api_errors) AS api_errors
"""


def run_link(run: dict[str, Any]) -> str | None:
    """A link to the CI run, built from the run context (GitHub Actions only)."""
    if run.get("provider") == "github_actions" and run.get("repository") and run.get("run_id"):
        link = f"https://github.com/{run['repository']}/actions/runs/{run['run_id']}"
        if run.get("run_attempt"):
            link += f"/attempts/{run['run_attempt']}"
        return str(link)
    pr = run.get("pr")
    return str(pr) if isinstance(pr, str) and pr.startswith("https://") else None


def compute(con: Any, *, source: str, filters: Filters, health: LogHealth) -> FleetReport:
    where, params = filters.where()
    con.execute(f"CREATE OR REPLACE TEMP TABLE selected AS SELECT * FROM runs{where}", params)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW selected_facts AS "
        "SELECT f.* FROM facts f SEMI JOIN selected s ON f.session_id = s.session_id"
    )
    totals = _rows(
        con,
        f"SELECT {_GROUP_FIGURES}, count(*) FILTER (NOT has_result) AS runs_without_result, "
        "count(*) FILTER (exit_code IS NOT NULL AND exit_code <> 0) AS runs_failed, "
        "sum(events) AS events FROM selected",
        [],
    )[0]
    totals["runs_without_result"] = totals.get("runs_without_result") or 0
    totals["torn_logs"] = len(health.torn_logs)
    totals["bad_lines"] = health.bad_lines
    for key in ("runs", "failed_validation", "api_requests", "api_errors", "events"):
        totals[key] = totals.get(key) or 0
    report = FleetReport(source=source, filters=filters.to_dict(), totals=totals)
    report.by_repository = _group(con, "coalesce(repository, '(none)')", "repository")
    report.by_workflow = _group(con, "coalesce(workflow, '(none)')", "workflow")
    report.by_day = _group(con, "CAST(started_at AS DATE)", "day")
    report.by_week = _group(con, "CAST(date_trunc('week', started_at) AS DATE)", "week")
    report.by_model = _rows(
        con,
        "SELECT coalesce(model, '(unknown)') AS model, count(DISTINCT session_id) AS runs, "
        "count(*) AS api_requests, sum(cost_usd) AS cost_usd, "
        "bool_and(cost_usd IS NOT NULL) AS cost_complete, "
        "coalesce(sum(input_tokens), 0) AS input_tokens, "
        "coalesce(sum(output_tokens), 0) AS output_tokens, "
        "coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens, "
        "coalesce(sum(cache_creation_tokens), 0) AS cache_creation_tokens "
        "FROM selected_facts WHERE is_request GROUP BY 1 ORDER BY cost_usd DESC NULLS LAST, 1",
        [],
    )
    report.by_harness = _rows(
        con,
        "SELECT harness, count(DISTINCT session_id) AS runs, count(*) AS events, "
        "count(*) FILTER (is_request) AS api_requests, "
        "count(*) FILTER (action = 'session.error') AS api_errors, "
        "round(count(*) FILTER (action = 'session.error') / "
        "  greatest(count(*) FILTER (is_request) + count(*) FILTER (action = 'session.error'), 1), "
        "  4) AS error_rate, "
        "sum(cost_usd) FILTER (is_request) AS cost_usd "
        "FROM selected_facts WHERE harness IS NOT NULL AND harness <> 'beacon' "
        "GROUP BY harness ORDER BY runs DESC, harness",
        [],
    )
    expensive = _rows(
        con,
        "SELECT session_id, provider, repository, workflow, job, run_id, run_attempt, pr, "
        "started_at, cost_usd, input_tokens + output_tokens AS tokens, validation_status, "
        "exit_code FROM selected WHERE cost_usd IS NOT NULL "
        f"ORDER BY cost_usd DESC, session_id LIMIT {TOP}",
        [],
    )
    for run in expensive:
        run["link"] = run_link(run)
    report.most_expensive_runs = expensive
    _findings(con, report)
    report.top_commands = _rows(
        con,
        "SELECT command, count(*) AS count, count(DISTINCT session_id) AS runs FROM ("
        "  SELECT DISTINCT session_id, coalesce(tool_call_id, CAST(ts AS VARCHAR)) AS call, "
        "  command FROM selected_facts "
        "  WHERE action = 'command.executed' AND command IS NOT NULL AND harness <> 'beacon'"
        f") GROUP BY command ORDER BY count DESC, command LIMIT {TOP}",
        [],
    )
    report.top_files = _rows(
        con,
        "SELECT file_path AS path, count(*) AS count, count(DISTINCT session_id) AS runs FROM ("
        "  SELECT DISTINCT session_id, coalesce(tool_call_id, CAST(ts AS VARCHAR)) AS call, "
        "  file_path FROM selected_facts "
        "  WHERE action = 'file.modified' AND file_path IS NOT NULL"
        f") GROUP BY file_path ORDER BY count DESC, file_path LIMIT {TOP}",
        [],
    )
    report.runs = _rows(
        con,
        "SELECT session_id, provider, repository, workflow, job, run_id, run_attempt, branch, "
        "pr_number, started_at, ended_at, harnesses, models, events, api_requests, api_errors, "
        "input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, "
        "validation_status, exit_code, has_result, log_object, result_object "
        "FROM selected ORDER BY started_at NULLS LAST, session_id",
        [],
    )
    for run in report.runs:
        run["link"] = run_link(run)
    return report


def _group(con: Any, expression: str, name: str) -> list[dict[str, Any]]:
    return _rows(
        con,
        f"SELECT {expression} AS {name}, {_GROUP_FIGURES} FROM selected "
        "GROUP BY 1 ORDER BY 1 NULLS LAST",
        [],
    )


def _findings(con: Any, report: FleetReport) -> None:
    rows = con.execute(
        "SELECT session_id, findings FROM selected WHERE findings IS NOT NULL"
    ).fetchall()
    by_severity: dict[str, int] = {}
    by_rule: dict[tuple[str, str], dict[str, Any]] = {}
    for session_id, text in rows:
        for finding in json.loads(text) if text else []:
            if not isinstance(finding, dict):
                continue
            severity = str(finding.get("severity", "unknown"))
            rule = str(finding.get("rule_id") or finding.get("id") or "unknown")
            by_severity[severity] = by_severity.get(severity, 0) + 1
            entry = by_rule.setdefault(
                (rule, severity),
                {
                    "rule_id": rule,
                    "title": finding.get("title"),
                    "severity": severity,
                    "count": 0,
                    "runs": set(),
                },
            )
            entry["count"] += 1
            entry["runs"].add(session_id)
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    report.findings_by_severity = [
        {"severity": s, "count": n}
        for s, n in sorted(by_severity.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))
    ]
    report.findings_by_rule = sorted(
        ({**e, "runs": len(e["runs"])} for e in by_rule.values()),
        key=lambda e: (order.get(e["severity"], 9), -e["count"], e["rule_id"]),
    )
