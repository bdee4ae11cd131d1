"""Generated fleets: many runs' runtime.jsonl and result.json with totals known in advance.

Every run is built from a few drawn numbers (requests, tokens, cost, commands, files);
``Expected`` adds those numbers up as the runs are drawn, never by reading the files
back, so a report that mis-reads the files cannot agree with it by construction.
The lines follow the Beacon 1.0 schema (a test checks each with beacon's own
validator) and repeat what Claude Code really does: each command and file edit comes
twice, from the log event and from the span, sharing the tool call id.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPOS = ("acme/api", "acme/web", "globex/infra")
WORKFLOWS = ("review", "autofix")
CLAUDE_MODELS = ("claude-opus-4-8", "claude-sonnet-4-7")
COMMANDS = ("npm test", "git status", "pytest -q", "ls -la")
FILES = ("src/app.py", "README.md", ".github/workflows/ci.yml")
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


@dataclass
class Expected:
    runs: int = 0
    failed_validation: int = 0
    without_result: int = 0
    cost_by_repo: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    runs_by_repo: Counter[str] = field(default_factory=Counter)
    cost_by_model: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    requests_by_model: Counter[str] = field(default_factory=Counter)
    cost_by_day: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    errors: int = 0
    cost: float = 0.0
    commands: Counter[str] = field(default_factory=Counter)
    files: Counter[str] = field(default_factory=Counter)
    findings_by_rule: Counter[str] = field(default_factory=Counter)
    codex_runs: int = 0


def _line(
    ts: dt.datetime, session: str, action: str, harness: tuple[str, str], **extra: Any
) -> dict[str, Any]:
    category = action.split(".", 1)[0]
    line: dict[str, Any] = {
        "timestamp": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "vendor": "beacon",
        "product": "endpoint-agent",
        "schema_version": "1.0",
        "origin": "ci",
        "event": {"kind": "agent_runtime", "action": action, "category": category},
        "severity": "info",
        "endpoint": {"hostname": "runner-1", "os": "linux", "agent_version": "0.1.0"},
        "harness": {"name": harness[0], "version": harness[1]},
        "beacon": {
            "session_id": session,
            "source": {"signal": extra.pop("_signal", "logs")},
            "truncated_fields": [],
            "redactions": {},
        },
    }
    line.update(extra)
    return line


def _run_context(repo: str, workflow: str, run_id: int, layout_job: str) -> dict[str, Any]:
    return {
        "provider": "github_actions",
        "repository": repo,
        "workflow": workflow,
        "job": layout_job,
        "run_id": str(run_id),
        "run_attempt": "1",
        "commit": f"{run_id:040x}",
    }


def generate(root: Path, *, runs: int, seed: int = 7, layout: str = "default") -> Expected:
    """Write ``runs`` runs under ``root`` in the upload layout ``default`` or ``hive``."""
    rng = random.Random(seed)
    expected = Expected()
    for index in range(runs):
        repo = REPOS[index % len(REPOS)]
        workflow = WORKFLOWS[rng.randrange(len(WORKFLOWS))]
        start = START + dt.timedelta(days=rng.randrange(20), minutes=index)
        session = f"sess-{index:05d}"
        codex = index % 7 == 3  # sends no cost
        harness = ("codex", "0.171.0") if codex else ("claude_code", "2.1.332")
        run = _run_context(repo, workflow, 1000 + index, "agent")
        lines = [_line(start, session, "session.started", ("beacon", "0.1.0"), run=run)]
        ts = start
        run_cost = 0.0
        for _request in range(rng.randrange(1, 4)):
            ts += dt.timedelta(seconds=1)
            model = "gpt-5" if codex else CLAUDE_MODELS[rng.randrange(len(CLAUDE_MODELS))]
            tokens_in, tokens_out = rng.randrange(100, 2000), rng.randrange(10, 500)
            usage: dict[str, Any] = {"input_tokens": tokens_in, "output_tokens": tokens_out}
            if not codex:
                cost = round(rng.uniform(0.001, 0.5), 6)
                usage["cost_usd"] = cost
                run_cost += cost
                expected.cost_by_model[model] += cost
            expected.requests_by_model[model] += 1
            expected.input_tokens += tokens_in
            expected.output_tokens += tokens_out
            expected.requests += 1
            # Spans and metric points name the model with a suffix; the report must not split it.
            lines.append(
                _line(
                    ts,
                    session,
                    "session.activity",
                    harness,
                    run=run,
                    model=model,
                    gen_ai={"usage": usage, "request": {"model": model}},
                )
            )
            lines.append(
                _line(
                    ts,
                    session,
                    "metric.observed",
                    harness,
                    run=run,
                    _signal="metrics",
                    model=f"{model}[1m]",
                    metric={
                        "name": "claude_code.token.usage",
                        "kind": "sum",
                        "value": float(tokens_in),
                    },
                )
            )
        if rng.random() < 0.2:
            ts += dt.timedelta(seconds=1)
            lines.append(
                _line(ts, session, "session.error", harness, run=run, error={"type": "overloaded"})
            )
            expected.errors += 1
        for call in range(rng.randrange(0, 4)):
            ts += dt.timedelta(seconds=1)
            command = COMMANDS[rng.randrange(len(COMMANDS))]
            tool = {"call": {"id": f"{session}-c{call}"}}
            for signal in ("logs", "traces"):
                lines.append(
                    _line(
                        ts,
                        session,
                        "command.executed",
                        harness,
                        run=run,
                        _signal=signal,
                        command={"command": command},
                        gen_ai={"tool": tool},
                    )
                )
            expected.commands[command] += 1
        for edit in range(rng.randrange(0, 3)):
            ts += dt.timedelta(seconds=1)
            path = FILES[rng.randrange(len(FILES))]
            tool = {"call": {"id": f"{session}-f{edit}"}}
            for signal in ("logs", "traces"):
                lines.append(
                    _line(
                        ts,
                        session,
                        "file.modified",
                        harness,
                        run=run,
                        _signal=signal,
                        file={"path": path, "operation": "write"},
                        gen_ai={"tool": tool},
                    )
                )
            expected.files[path] += 1
        expected.runs += 1
        expected.runs_by_repo[repo] += 1
        if not codex:
            expected.cost += run_cost
            expected.cost_by_repo[repo] += run_cost
            expected.cost_by_day[start.date().isoformat()] += run_cost
        else:
            expected.codex_runs += 1
        failed = rng.random() < 0.15
        expected.failed_validation += failed
        findings = []
        if index % 5 == 0:
            findings.append(
                {
                    "rule_id": "beacon.ci.workflow-edit",
                    "severity": "high",
                    "title": "Workflow edited",
                }
            )
        directory = root / _prefix(layout, repo, 1000 + index, start, session)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "runtime.jsonl").write_bytes(
            b"".join(orjson.dumps(line) + b"\n" for line in lines)
        )
        if index % 11 == 5:
            expected.without_result += 1
            continue
        for finding in findings:
            expected.findings_by_rule[finding["rule_id"]] += 1
        result = {
            "session_id": session,
            "child_exit_code": 0,
            "exit_code": 3 if failed else 0,
            "validation": {"status": "fail" if failed else "ok"},
            "uploads": [],
            "findings": findings,
        }
        (directory / "result.json").write_text(json.dumps(result))
    return expected


def _prefix(layout: str, repo: str, run_id: int, start: dt.datetime, session: str) -> str:
    owner, name = repo.split("/")
    if layout == "hive":
        return (
            f"beacon/dt={start.date().isoformat()}/provider=github_actions/"
            f"repo={owner}__{name}/run={run_id}.1/agent/{session}"
        )
    return f"beacon/{owner}/{name}/{run_id}/1/agent/{session}"
