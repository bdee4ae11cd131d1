"""Property: for any message, the hand-written codec equals json_format (ids as hex)."""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.otlp import TOP_LEVEL_KEY
from beacon.otlp.codec import (
    REQUEST_TYPES,
    encode_spool_line,
    parse_protobuf_request,
    request_to_dict,
)

from .otlp_fixtures import oracle_dict

_MAX_DEPTH = 6
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
_INT64 = st.integers(-(2**63), 2**63 - 1)
_UINT64 = st.integers(0, 2**64 - 1)
_INT32 = st.integers(-(2**31), 2**31 - 1)
_UINT32 = st.integers(0, 2**32 - 1)
_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_DOUBLE: st.floats(allow_nan=True, allow_infinity=True),
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_STRING: _TEXT,
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=16),
    FieldDescriptor.TYPE_ENUM: st.integers(0, 12),
}


def _fill(msg: Any, draw: Any, depth: int) -> None:
    descriptor = msg.DESCRIPTOR
    # One member per oneof (or none): setting several would just keep the last.
    chosen = {
        oneof.name: draw(st.sampled_from([None, *[f.name for f in oneof.fields]]))
        for oneof in descriptor.oneofs
    }
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None:
            if chosen[oneof.name] != field.name:
                continue
        elif not draw(st.booleans()):
            continue
        is_message = field.type == FieldDescriptor.TYPE_MESSAGE
        if is_message and depth >= _MAX_DEPTH:
            continue
        if field.is_repeated:
            container = getattr(msg, field.name)
            # The envelope levels always get content so the leaves are reached.
            low = 1 if is_message and depth < 3 else 0
            for _ in range(draw(st.integers(low, 2))):
                if is_message:
                    _fill(container.add(), draw, depth + 1)
                else:
                    container.append(draw(_SCALARS[field.type]))
        elif is_message:
            sub = getattr(msg, field.name)
            sub.SetInParent()
            _fill(sub, draw, depth + 1)
        else:
            setattr(msg, field.name, draw(_SCALARS[field.type]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signal=st.sampled_from(sorted(REQUEST_TYPES)), data=st.data())
def test_codec_equals_json_format(signal: str, data: st.DataObject) -> None:
    req = REQUEST_TYPES[signal]()
    _fill(req, data.draw, 0)
    # A wire round trip first: what a receiver decodes is what gets encoded.
    req = parse_protobuf_request(signal, req.SerializeToString())
    expected = oracle_dict(req)
    assert request_to_dict(signal, req) == expected
    # Streaming encoder == dumping the dict, byte for byte (key order included).
    line = encode_spool_line(signal, req)
    assert line == orjson.dumps(request_to_dict(signal, req) or {TOP_LEVEL_KEY[signal]: []})


def _wrap(signal: str, draw: Any) -> Any:
    """A request with one resource/scope around a generated record (more leaf coverage)."""
    req = REQUEST_TYPES[signal]()
    if signal == "logs":
        record = req.resource_logs.add().scope_logs.add().log_records.add()
    elif signal == "metrics":
        record = req.resource_metrics.add().scope_metrics.add().metrics.add()
    else:
        record = req.resource_spans.add().scope_spans.add().spans.add()
    _fill(record, draw, 2)
    return req


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signal=st.sampled_from(sorted(REQUEST_TYPES)), data=st.data())
def test_codec_equals_json_format_on_records(signal: str, data: st.DataObject) -> None:
    req = parse_protobuf_request(signal, _wrap(signal, data.draw).SerializeToString())
    expected = oracle_dict(req)
    assert request_to_dict(signal, req) == expected
    assert encode_spool_line(signal, req) == orjson.dumps(request_to_dict(signal, req))
