"""Odd lines never break the report: any JSON value in any field of any line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.report import build_report, render_html, render_json, render_markdown, render_text

from .helpers import fixture_run_requests, lines_of, pipeline_log

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def fixture_lines(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    log = pipeline_log(tmp_path_factory.mktemp("robust"), fixture_run_requests("grpc"))
    return lines_of(log)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    return found


def _replace(line: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node = line
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_value_anywhere_gives_a_report(
    fixture_lines: list[dict[str, Any]], data: st.DataObject, tmp_path: Path
) -> None:
    lines = copy.deepcopy(fixture_lines)
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
        paths = [p for p in _paths(lines[index]) if p[0] != "beacon" or len(p) > 2]
        path = data.draw(st.sampled_from(paths))
        _replace(lines[index], path, data.draw(JSON))
    report = build_report(lines)
    for render in (render_text, render_markdown, render_json, render_html):
        assert isinstance(render(report), str)


def test_values_that_no_client_sends_still_give_a_report() -> None:
    base = {
        "event": {"action": "metric.observed"},
        "harness": {"name": "claude_code", "version": "1"},
        "beacon": {"session_id": "r", "source": {"signal": "metrics"}},
        "session": {"id": "s"},
    }
    lines = [
        {
            **base,
            "timestamp": "0001-01-01T00:00:00Z",
            "metric": {
                "name": "claude_code.token.usage",
                "value": float("inf"),
                "temporality": "cumulative",
            },
            "gen_ai": {"token": {"type": "input"}},
        },
        {
            **base,
            "timestamp": "9999-12-31T23:59:59.999Z",
            "metric": {"name": "claude_code.cost.usage", "value": 1e308},
        },
        {
            **base,
            "event": {"action": "command.executed"},
            "timestamp": "not a time",
            "command": {"command": "x", "duration_ms": 2**70},
        },
    ]
    report = build_report(lines)
    metrics = report.to_dict()["totals"]["metrics"]
    assert metrics["tokens"] is None  # the infinite point is not a figure
    assert metrics["cost_usd"] == 1e308
    for render in (render_text, render_markdown, render_json, render_html):
        assert isinstance(render(report), str)
