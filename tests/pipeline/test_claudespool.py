"""Claude Code's log requests read into structs give the general path's lines, or none.

Differential: for a spool line, ``claudespool`` (msgspec structs, then
``claude_line``) either declines, or gives the very lines, byte for byte, and
the same counts as ``parse_spool_line`` + ``normalize`` with the Claude fast path.
Over the recorded Claude Code runs and over generated spool lines, the generated
ones also with what the structs must leave to orjson: integers past int64, escaped
characters and lone surrogates, unknown fields, nulls, keys given twice, array
values. The tests also check that the struct path does take lines (it is not
vacuously "the same" by always declining), and that the int64 bound is needed.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.otlp import parse_spool_line
from beacon.pipeline.claudelogs import claude_log_line
from beacon.pipeline.claudespool import claude_request_lines, decode_claude_request
from beacon.pipeline.normalize import LineContext, NormalizeStats, normalize

from .helpers import context, fixture_requests
from .test_claudelogs import CONTEXTS, RECORDED_CONTEXTS, RECORDED_RUNS
from .test_claudelogs import requests as claude_requests

EXAMPLES = int(os.environ.get("BEACON_FUZZ_EXAMPLES", "150"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _general(piece: bytes, ctx: LineContext) -> tuple[list[bytes] | None, NormalizeStats]:
    stats = NormalizeStats()
    request = parse_spool_line(piece)
    if request is None:
        return None, stats
    lines = normalize((request,), ctx, stats, fast_logs=claude_log_line)
    return [orjson.dumps(line) for line in lines], stats


def _structs(piece: bytes, ctx: LineContext) -> tuple[list[bytes] | None, NormalizeStats]:
    stats = NormalizeStats()
    request = decode_claude_request(piece)
    lines = None if request is None else claude_request_lines(request, ctx, stats)
    return (None if lines is None else [orjson.dumps(line) for line in lines]), stats


def _agree(piece: bytes, ctx: LineContext) -> bool:
    """Assert the struct path declines or agrees; True when it took the line."""
    mine, my_stats = _structs(piece, ctx)
    if mine is None:
        assert my_stats == NormalizeStats()  # a declined line counts nothing
        return False
    general, general_stats = _general(piece, ctx)
    assert mine == general
    assert my_stats == general_stats
    return True


@pytest.mark.parametrize(("directory", "protocol", "suffix"), RECORDED_RUNS)
@pytest.mark.parametrize("ctx", RECORDED_CONTEXTS)
def test_the_recorded_claude_runs_give_the_same_lines(
    directory: Any, protocol: str, suffix: str, ctx: LineContext
) -> None:
    taken = 0
    for signal, payload in fixture_requests(protocol, suffix, directory, ("logs",)):
        assert signal == "logs"
        # As the collector spooled it, and one spool line per record too (a session's
        # later batches: its start-up events, with array values, come in the first).
        taken += _agree(orjson.dumps(payload), ctx)
        for resource_logs in payload["resourceLogs"]:
            for scope_logs in resource_logs["scopeLogs"]:
                for record in scope_logs["logRecords"]:
                    one = {**scope_logs, "logRecords": [record]}
                    single = {"resourceLogs": [{**resource_logs, "scopeLogs": [one]}]}
                    taken += _agree(orjson.dumps(single), ctx)
    if not ctx.withheld:
        assert taken > 0


# -- generated spool lines ---------------------------------------------------------------

# Byte-level changes a real spool line may carry, each applied to a serialized request.
EDITS: list[tuple[bytes, bytes]] = [
    (b'"intValue":"', b'"intValue":"'),  # unchanged
    (b'"flags":1', b'"flags":18446744073709551615'),  # past int64, still an int to orjson
    (b'"flags":1', b'"flags":18446744073709551616'),  # a float to orjson
    (b'"flags":1', b'"flags":-9223372036854775809'),
    (b'"flags":1', b'"flags":1' + b"0" * 400),  # infinite as a double: orjson refuses
    (b'"flags":1', b'"flags":1.0'),
    (b'"flags":1', b'"flags":null'),
    (b'"flags":1', b'"flags":1,"observedTimeUnixNano":null'),
    (b'"flags":1', b'"flags":1,"unknown":{"a":[1,2]}'),
    (b'"flags":1', b'"flags":1,"traceId":"2b902f8911e81818f8c99d5d5d983195","traceId":"x"'),
    (b'"stringValue":"', b'"stringValue":"\\u0007'),
    (b'"stringValue":"', b'"stringValue":"\\ud83d\\ude00'),
    (b'"stringValue":"', b'"stringValue":"\\udc00'),
    (b'"stringValue":"', b'"stringValue":"\\ud800'),
    (b'"stringValue":"', b'"stringValue":"\\u00e9\\/\\t'),
    (b'"intValue":"', b'"intValue":"99999999999999999999999'),
    (b'"intValue":"', b'"intValue":"\\u00b2'),  # a digit to isdigit, not to int()
    (b'"intValue":"', b'"intValue":"\\u0661'),  # an Arabic-Indic digit, which int() reads
    (b'"key":"', b'"key":"\\u0000'),
    (b'"scope":{', b'"scope":{"attributes":[],'),
    (b'"resource":{', b'"resource":{"droppedAttributesCount":2,'),
    (b'{"resourceLogs":[', b'{"resourceLogs":[],"resourceLogs":['),
    (b'{"resourceLogs":[', b' {"resourceLogs":['),
]


def _with_flags(payload: dict[str, Any]) -> dict[str, Any]:
    for resource_logs in payload["resourceLogs"]:
        for scope_logs in resource_logs["scopeLogs"]:
            for record in scope_logs["logRecords"]:
                record["flags"] = 1
    return payload


@PROPERTY
@given(
    request=claude_requests(),
    edit=st.sampled_from(EDITS),
    count=st.integers(min_value=1, max_value=3),
    ctx=CONTEXTS,
)
def test_generated_spool_lines_give_the_same_lines(
    request: tuple[str, dict[str, Any]], edit: tuple[bytes, bytes], count: int, ctx: LineContext
) -> None:
    piece = orjson.dumps(_with_flags(request[1])).replace(edit[0], edit[1], count)
    _agree(piece, ctx)


def test_the_generated_spool_lines_reach_the_struct_path() -> None:
    taken = [0]

    @settings(max_examples=120, deadline=None, database=None)
    @given(request=claude_requests())
    def count(request: tuple[str, dict[str, Any]]) -> None:
        taken[0] += _agree(orjson.dumps(_with_flags(request[1])), context())

    count()
    assert taken[0] >= 5  # about one in eight is taken: most carry an odd record


def _line(**record_fields: Any) -> bytes:
    record = {
        "timeUnixNano": "1795912906281000000",
        "attributes": [
            {"key": "event.name", "value": {"stringValue": "user_prompt"}},
            {"key": "prompt", "value": {"stringValue": "hello"}},
            {"key": "event.sequence", "value": {"intValue": "3"}},
        ],
        **record_fields,
    }
    payload = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]
                },
                "scopeLogs": [
                    {"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": [record]}
                ],
            }
        ]
    }
    return orjson.dumps(payload)


def test_an_ordinary_line_is_taken() -> None:
    assert _agree(_line(), context())


@pytest.mark.parametrize(
    "piece",
    [
        _line(flags=2**63),  # orjson: an int (past int64)
        _line(flags=7).replace(b'"flags":7', b'"flags":18446744073709551617'),  # a float
        _line().replace(b'"hello"', b'"\\ud800"'),
        _line(severityNumber=None),
        _line(extra=1),
        _line(body={"arrayValue": {"values": []}}),
        _line().replace(b"claude_code.events", b"other.events"),
        _line()[:-5],  # a torn line
        b'{"resourceMetrics":[]}',
    ],
)
def test_what_the_structs_leave_to_the_general_path(piece: bytes) -> None:
    assert decode_claude_request(piece) is None or _structs(piece, context())[0] is None
    _agree(piece, context())


def test_the_int64_bound_is_needed() -> None:
    """Without it the structs would read a line that orjson refuses (a bad spool line)."""
    huge = _line(flags=7).replace(b'"flags":7', b'"flags":1' + b"0" * 400)
    assert parse_spool_line(huge) is None  # orjson: infinite as a double
    unbounded = msgspec.json.Decoder(
        msgspec.defstruct("Flags", [("flags", int)], forbid_unknown_fields=False)
    )
    assert unbounded.decode(b'{"flags":1' + b"0" * 400 + b"}").flags == 10**400
    assert decode_claude_request(huge) is None
    _agree(huge, context())


def test_escapes_are_read_alike() -> None:
    piece = _line().replace(b'"hello"', b'"\\u00e9\\ud83d\\ude00\\u001b[31m"')
    assert _agree(piece, context())
    for lone in (b'"\\ud800"', b'"\\udc00"', b'"\\ud800\\u0041"'):
        broken = _line().replace(b'"hello"', lone)
        assert parse_spool_line(broken) is None
        assert decode_claude_request(broken) is None
