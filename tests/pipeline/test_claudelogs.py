"""The fast path for Claude Code's log records maps each record as the general path does.

Differential: ``normalize`` with ``fast_logs=claude_log_line`` and without it give
the same lines, serialized byte for byte (key order included), and the same
counts, over the recorded Claude Code runs and over generated records: every
event the fast path maps and others, attribute values of every ``AnyValue``
kind (and broken ones), keys given twice, odd items, bodies, timestamps, trace
ids, session and vcs attributes, withheld attributes, a working directory and a
run context. The tests also check that the fast path did map records (it is not
vacuously "the same" by always declining).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.pipeline import claudelogs
from beacon.pipeline.claudelogs import EVENTS, claude_log_line
from beacon.pipeline.content import withheld_attributes
from beacon.pipeline.normalize import LineContext, NormalizeStats, normalize

from .helpers import CLAUDE, CLAUDE_2_1_332, PROTOCOLS, context, fixture_requests

EXAMPLES = int(os.environ.get("BEACON_FUZZ_EXAMPLES", "150"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
Request = tuple[str, dict[str, Any]]


def _counting_fast() -> tuple[list[int], Any]:
    mapped = [0]

    def fast(*args: Any) -> Any:
        line = claude_log_line(*args)
        mapped[0] += line is not None
        return line

    return mapped, fast


def _both(requests: Iterable[Request], ctx: LineContext) -> tuple[int, int]:
    """Assert both paths agree; return (lines, lines the fast path mapped)."""
    requests = list(requests)
    general_stats, fast_stats = NormalizeStats(), NormalizeStats()
    general = [orjson.dumps(line) for line in normalize(requests, ctx, general_stats)]
    mapped, fast_logs = _counting_fast()
    fast = [
        orjson.dumps(line) for line in normalize(requests, ctx, fast_stats, fast_logs=fast_logs)
    ]
    assert fast == general
    assert fast_stats == general_stats
    return len(general), mapped[0]


# The recorded Claude Code runs (fixture directory, protocol, suffix) and the contexts
# they are mapped in (tests/pipeline/test_claudespool.py uses them too).
RECORDED_RUNS = [
    *((CLAUDE, protocol, "") for protocol in PROTOCOLS),
    (CLAUDE, "http-protobuf", ".write-tool"),
    (CLAUDE_2_1_332, "grpc", ""),
    (CLAUDE_2_1_332, "http-protobuf", ""),
    (CLAUDE_2_1_332, "http-protobuf", ".include-repo-host"),
]
RECORDED_CONTEXTS = [
    context(),
    context(working_directory="/w", run={"repository": "o/r", "branch": "main"}),
    context(withheld=withheld_attributes(prompts=False, tool_details=False)),
]


@pytest.mark.parametrize(("directory", "protocol", "suffix"), RECORDED_RUNS)
@pytest.mark.parametrize("ctx", RECORDED_CONTEXTS)
def test_the_recorded_claude_runs_map_the_same(
    directory: Any, protocol: str, suffix: str, ctx: LineContext
) -> None:
    signals = (
        ("logs", "metrics") if suffix == ".include-repo-host" else ("logs", "metrics", "traces")
    )
    lines, mapped = _both(fixture_requests(protocol, suffix, directory, signals), ctx)
    assert lines > 0
    if not ctx.withheld:
        assert mapped > 0  # not vacuous: the fast path mapped records of the run


# -- generated records ------------------------------------------------------------------

TEXT = st.sampled_from(
    ["", "Bash", "Edit", "Read", "mcp__srv__tool", "mcp_tool", "accept", "reject", "x", "é"]
) | st.text(max_size=12)
INTS = st.integers(min_value=-(2**63), max_value=2**64 - 1)
ANY_VALUE = st.one_of(
    TEXT.map(lambda t: {"stringValue": t}),
    INTS.map(lambda n: {"intValue": str(n)}),
    INTS.map(lambda n: {"intValue": n}),
    st.floats(allow_nan=False).map(lambda f: {"doubleValue": f}),
    st.sampled_from(["NaN", "Infinity", "1.5", "x"]).map(lambda f: {"doubleValue": f}),
    st.booleans().map(lambda b: {"boolValue": b}),
    st.just({"stringValue": 5}),
    st.just({}),
    st.just({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}),
    st.just({"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}),
    st.just({"bytesValue": "AAEC"}),
)
JSON_TEXT = st.sampled_from(
    [
        '{"command":"npm test","file_path":"/a/b.py"}',
        '{"full_command":"git status","bash_command":"git"}',
        '{"mcp_server_name":"srv","mcp_tool_name":"t"}',
        '{"file_path":"/a/b.ts","notebook_path":"/n.ipynb"}',
        "[1,2]",
        "{not json",
    ]
)
KEYS = st.sampled_from(
    [
        "event.name",
        "event.sequence",
        "event.timestamp",
        "session.id",
        "conversation.id",
        "prompt",
        "prompt_text",
        "prompt_length",
        "tool_name",
        "tool_use_id",
        "success",
        "duration_ms",
        "decision",
        "source",
        "error",
        "error_type",
        "model",
        "request_id",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "cache_creation_5m_tokens",
        "cache_creation_1h_tokens",
        "cost_usd",
        "ttft_ms",
        "response",
        "vcs.owner.name",
        "vcs.repository.name",
        "vcs.repository.url.full",
        "full_command",
        "file_path",
        "command",
        "bash_argv0",
    ]
)


@st.composite
def attribute_items(draw: st.DrawFn) -> list[Any]:
    name = draw(st.sampled_from([*sorted(EVENTS), "api_error", "mcp_server_connection", ""]))
    items: list[Any] = []
    if draw(st.sampled_from([True] * 9 + [False])):
        items.append({"key": "event.name", "value": {"stringValue": name}})
    for key, value in draw(
        st.dictionaries(KEYS.filter(lambda k: k != "event.name"), ANY_VALUE, max_size=12)
    ).items():
        items.append({"key": key, "value": value})
    for key in draw(st.lists(st.sampled_from(["tool_parameters", "tool_input"]), max_size=2)):
        items.append({"key": key, "value": {"stringValue": draw(JSON_TEXT)}})
    odd = draw(
        st.sampled_from(
            [
                *(None,) * 16,
                "no-value",
                "non-dict",
                "int-key",
                "event-name-int",
                "duplicate",
                "shuffle",
                "list-value",
                "null-value",
            ]
        )
    )
    if odd == "no-value":
        items.append({"key": "x"})
    elif odd == "non-dict":
        items.append(["key", "value"])
    elif odd == "int-key":
        items.append({"key": 3, "value": {"stringValue": "v"}})
    elif odd == "event-name-int":
        items.append({"key": "event.name", "value": {"intValue": "3"}})
    elif odd == "duplicate" and items:
        items.append(dict(items[0]))
    elif odd == "list-value":
        items.append({"key": "y", "value": [1]})
    elif odd == "null-value":
        items.append({"key": "y", "value": None})
    elif odd == "shuffle":
        items = draw(st.permutations(items))
    return items


NANOS = st.one_of(
    st.none(),
    st.just("1795912906281000000"),
    st.just(1_795_912_906_281_000_000),
    st.just("0"),
    st.just("x"),
    st.just(-5),
)
IDS = st.one_of(
    st.none(),
    st.just("2b902f8911e81818f8c99d5d5d983195"),
    st.just("2B902F8911E81818F8C99D5D5D983195"),
    st.just("00000000000000000000000000000000"),
    st.just("K5AviRHoGBj4yZ1dXZgxlQ=="),
    st.just("zz"),
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": draw(attribute_items())}
    for key, strategy in (
        ("timeUnixNano", NANOS),
        ("observedTimeUnixNano", NANOS),
        ("traceId", IDS),
        ("spanId", st.one_of(st.none(), st.just("7504d90e945de2e8"), st.just("0" * 16))),
        (
            "body",
            st.one_of(
                st.none(),
                st.just({"stringValue": "claude_code.api_request"}),
                st.just({"stringValue": ""}),
                st.just({"intValue": "3"}),
                st.just("text"),
            ),
        ),
        ("eventName", st.one_of(st.none(), st.just("api_request"))),
    ):
        value = draw(strategy)
        if value is not None:
            record[key] = value
    if draw(st.sampled_from([False] * 15 + [True])):
        record["attributes"] = draw(st.sampled_from([None, "x", {}]))
    return record


@st.composite
def requests(draw: st.DrawFn) -> Request:
    scope = draw(
        st.sampled_from(["com.anthropic.claude_code.events", "com.anthropic.claude_code", "other"])
    )
    version = draw(st.sampled_from([None, "2.1.197", ""]))
    resource: list[dict[str, Any]] = [{"key": "service.name", "value": {"stringValue": "c"}}]
    if version is not None:
        resource.append({"key": "service.version", "value": {"stringValue": version}})
    payload = {
        "resourceLogs": [
            {
                "resource": {"attributes": resource},
                "scopeLogs": [
                    {
                        "scope": {"name": scope, "version": "9.9"},
                        "logRecords": draw(st.lists(records(), min_size=1, max_size=4)),
                    }
                ],
            }
        ]
    }
    return "logs", payload


CONTEXTS = st.sampled_from(
    [
        context(),
        context(working_directory="/home/runner/app"),
        context(run={"repository": "o/r", "branch": "b", "ci": True}),
        context(withheld=withheld_attributes(prompts=False, tool_details=True)),
        context(withheld=withheld_attributes(prompts=True, tool_details=False)),
    ]
)


@PROPERTY
@given(batch=st.lists(requests(), min_size=1, max_size=3), ctx=CONTEXTS)
def test_generated_claude_records_map_the_same(batch: list[Request], ctx: LineContext) -> None:
    _both(batch, ctx)


def test_the_generated_records_reach_the_fast_path() -> None:
    # Not vacuous: the strategies above give records the fast path maps itself.
    found = [0]

    @settings(max_examples=60, deadline=None, database=None)
    @given(request=requests())
    def count(request: Request) -> None:
        found[0] += _both([request], context())[1]

    count()
    assert found[0] > 10


def test_odd_attribute_lists_go_to_the_general_path() -> None:
    assert claudelogs._attributes([{"key": "a", "value": {}}, {"key": "a", "value": {}}]) is None
    assert claudelogs._attributes([{"key": 1, "value": {}}]) is None
    assert claudelogs._attributes([["key"]]) is None
    assert claudelogs._attributes([{"key": "a", "value": None}]) is None
    assert claudelogs._attributes("x") is None
    assert claudelogs._attributes([{"key": "a", "value": {"intValue": "7"}}]) == {"a": 7}
