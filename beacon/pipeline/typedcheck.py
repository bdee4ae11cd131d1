"""Check a written line with one typed decode: parse and schema together (msgspec).

The usual check of a line parses its bytes (orjson), then tests the object
against the schema (``schemacheck``). ``build_line_type`` turns the runtime
schema into msgspec types once per process, so ONE ``msgspec.json.decode`` of
the bytes does both. It is a fast path only: what msgspec accepts, the usual
check accepts too (the types are at least as strict as the schema; tests in
tests/pipeline/test_typedcheck.py hold it); what msgspec rejects goes to the
usual check, which then gives its verdict and message as before. msgspec
rejects some lines the schema allows (an integer written ``1.0``, an integer
field beyond int64): those take the usual path.

The decode still reads the bytes that were written: what is checked is what
is in the file.

Supported: the subset ``schemacheck`` supports. A keyword outside it is an
error at build time (``UnsupportedSchema``), and the pipeline then keeps the
usual check for every line.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union

import msgspec

from beacon.pipeline.schemacheck import UnsupportedSchema
from beacon.pipeline.validate import LIFECYCLE_STOPPED, LineFacts

_ANNOTATIONS = frozenset({"$id", "$schema", "title", "description", "$comment", "examples"})
_LEAF_KEYWORDS = frozenset({"type", "enum", "const", "minLength", "minimum", "pattern"})
_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties", "propertyNames"})
# Integers orjson reads as ints (it does up to 2**64 - 1; msgspec bounds stop at int64).
_INT_RANGE = (-(2**63), 2**63 - 1)


def _pattern(source: str) -> str:
    # As ``schemacheck._pattern``: ECMA-262's ``$`` matches only at the very end.
    return re.sub(r"(?<!\\)\$", r"\\Z", source)


class _Builder:
    def __init__(self) -> None:
        self.count = 0

    def type_of(self, schema: Mapping[str, Any], name: str) -> Any:
        unknown = set(schema) - _ANNOTATIONS - _LEAF_KEYWORDS - _OBJECT_KEYWORDS - {"items"}
        if unknown:
            raise UnsupportedSchema(f"keywords {sorted(unknown)} at {name}")
        if "enum" in schema or "const" in schema:
            return self._literal(schema, name)
        kind = schema.get("type")
        if kind is None:
            if set(schema) - _ANNOTATIONS:
                raise UnsupportedSchema(f"keywords without a type at {name}")
            return Any
        if not isinstance(kind, str):
            raise UnsupportedSchema(f"a list of types at {name}")
        self._only(schema, name, kind)
        if kind == "string":
            meta: dict[str, Any] = {}
            if "minLength" in schema:
                meta["min_length"] = int(schema["minLength"])
            if "pattern" in schema:
                meta["pattern"] = _pattern(schema["pattern"])
            return Annotated[str, msgspec.Meta(**meta)] if meta else str
        if kind == "integer":
            # orjson reads an integer outside 64 bits as a float, msgspec as an int: such
            # a line takes the usual path, so the two never see different values.
            low, high = _INT_RANGE
            if "minimum" in schema:
                low = max(low, math.ceil(self._minimum(schema, name)))
            return Annotated[int, msgspec.Meta(ge=low, le=high)]
        if kind == "number":
            if "minimum" in schema:
                return Annotated[float, msgspec.Meta(ge=self._minimum(schema, name))]
            return float
        if kind == "boolean":
            return bool
        if kind == "null":
            return None
        if kind == "array":
            items = schema.get("items")
            if items is None:
                return list[Any]
            if not isinstance(items, dict):
                raise UnsupportedSchema(f"tuple items at {name}")
            return list.__class_getitem__(self.type_of(items, name + "[]"))
        if kind == "object":
            return self._object(schema, name)
        raise UnsupportedSchema(f"type {kind!r} at {name}")

    @staticmethod
    def _minimum(schema: Mapping[str, Any], name: str) -> float:
        minimum = schema["minimum"]
        if isinstance(minimum, bool) or not isinstance(minimum, int | float):
            raise UnsupportedSchema(f"minimum {minimum!r} at {name}")
        return minimum

    @staticmethod
    def _only(schema: Mapping[str, Any], name: str, kind: str) -> None:
        allowed = {
            "string": {"minLength", "pattern"},
            "integer": {"minimum"},
            "number": {"minimum"},
            "array": {"items"},
            "object": set(_OBJECT_KEYWORDS),
        }.get(kind, set())
        extra = set(schema) - _ANNOTATIONS - {"type"} - allowed
        if extra:
            # JSON Schema ignores a keyword of another type; msgspec could not express it.
            raise UnsupportedSchema(f"keywords {sorted(extra)} on a {kind} at {name}")

    @staticmethod
    def _literal(schema: Mapping[str, Any], name: str) -> Any:
        if set(schema) - _ANNOTATIONS - {"enum", "const", "type"}:
            raise UnsupportedSchema(f"enum/const with other keywords at {name}")
        values = list(schema["enum"]) if "enum" in schema else [schema["const"]]
        if "enum" in schema and "const" in schema:
            values = [v for v in values if v == schema["const"]]
        kind = schema.get("type")
        for value in values:
            # Strings only: msgspec's int literals would take a bool-free int, but the
            # schema's readings of 1 vs 1.0 vs true differ; none is needed.
            if not isinstance(value, str):
                raise UnsupportedSchema(f"non-string enum value {value!r} at {name}")
        if kind not in (None, "string"):
            raise UnsupportedSchema(f"string enum of type {kind!r} at {name}")
        if not values:
            raise UnsupportedSchema(f"an enum nothing matches at {name}")
        return Literal[tuple(values)]

    def _object(self, schema: Mapping[str, Any], name: str) -> Any:
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        names = schema.get("propertyNames")
        if not properties:
            if required:
                raise UnsupportedSchema(f"required keys without properties at {name}")
            key: Any = str
            if names is not None:
                key = self.type_of({"type": "string", **names}, name + "{key}")
            if extra is True:
                return _dict_of(key, Any)
            if extra is False:
                raise UnsupportedSchema(f"an object that must be empty at {name}")
            return _dict_of(key, self.type_of(extra, name + "{}"))
        if names is not None or extra not in (True, False):
            raise UnsupportedSchema(
                f"properties with propertyNames or a schema of extras at {name}"
            )
        if not required <= set(properties):
            raise UnsupportedSchema(f"required keys without properties at {name}")
        fields: list[tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        for index, (prop, subschema) in enumerate(properties.items()):
            field_type = self.type_of(subschema, f"{name}.{prop}")
            attribute = prop
            if not prop.isidentifier() or keyword.iskeyword(prop) or prop.startswith("_"):
                attribute = f"field_{index}"
            rename[attribute] = prop
            if prop in required:
                fields.append((attribute, field_type, msgspec.NODEFAULT))
            else:
                # UNSET, not None: an absent key is allowed, a null value is not.
                fields.append((attribute, Union[field_type, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
        self.count += 1
        return msgspec.defstruct(
            f"Line{self.count}",
            [(a, t) if d is msgspec.NODEFAULT else (a, t, d) for a, t, d in fields],
            kw_only=True,
            forbid_unknown_fields=extra is False,
            rename=rename,
        )


def build_line_type(schema: Mapping[str, Any]) -> Any:
    """The msgspec type of a runtime line (raises ``UnsupportedSchema``)."""
    if schema.get("type") != "object":
        raise UnsupportedSchema("the top level must be an object")
    return _Builder().type_of(schema, "$")


def line_decoder(schema: Mapping[str, Any]) -> Callable[[bytes], Any]:
    """``decode(raw)``: the typed line, or None when msgspec rejects it (then the usual
    check decides)."""
    decode = msgspec.json.Decoder(build_line_type(schema)).decode
    errors = (msgspec.ValidationError, msgspec.DecodeError)

    def typed(raw: bytes) -> Any:
        try:
            return decode(raw)
        except errors:
            return None

    return typed


def facts_decoder(schema: Mapping[str, Any]) -> Callable[[bytes], LineFacts | None]:
    """``facts(raw)``: what ``LogScan`` counts of a line msgspec proved valid; None for a
    line it rejects, and for the rare lines counted from the parsed dict (run summaries,
    collector-stopped lines)."""
    line_type = build_line_type(schema)
    _require_shape(line_type)
    decode = msgspec.json.Decoder(line_type).decode
    errors = (msgspec.ValidationError, msgspec.DecodeError)
    unset = msgspec.UNSET

    def facts(raw: bytes) -> LineFacts | None:
        try:
            line = decode(raw)
        except errors:
            return None
        beacon = line.beacon
        if beacon.summary is not unset:
            return None
        sequence = None
        source = beacon.source
        if source is not unset:
            if source.event_name == LIFECYCLE_STOPPED:
                return None
            if source.sequence is not unset:
                sequence = source.sequence
        session = line.session
        claude_session = None if session is unset or session.id is unset else session.id
        session_id = beacon.session_id
        return LineFacts(
            None if session_id is unset else session_id,
            line.event.action,
            line.harness.name,
            sequence,
            claude_session,
        )

    return facts


def _require_shape(line_type: Any) -> None:
    """``facts`` reads these fields; a schema without them keeps the usual check."""
    wanted = {
        "$": ("event", "harness", "beacon", "session"),
        "event": ("action",),
        "harness": ("name",),
        "beacon": ("summary", "source", "session_id"),
        "beacon.source": ("event_name", "sequence"),
        "session": ("id",),
    }
    hints: dict[str, Any] = {"$": line_type}
    for path, names in wanted.items():
        node: Any = hints.get(path)
        fields = {f.name: f for f in msgspec.structs.fields(node)} if _is_struct(node) else {}
        for name in names:
            if name not in fields:
                raise UnsupportedSchema(f"the schema has no {path}.{name}")
            child = _struct_of(fields[name].type)
            if child is not None:
                hints[name if path == "$" else f"{path}.{name}"] = child
    required = {f.name for f in msgspec.structs.fields(line_type) if f.required}
    if not {"event", "harness", "beacon"} <= required:
        raise UnsupportedSchema("event, harness and beacon must be required")


def _dict_of(key: Any, value: Any) -> Any:
    return dict.__class_getitem__((key, value))


def _is_struct(node: Any) -> bool:
    return isinstance(node, type) and issubclass(node, msgspec.Struct)


def _struct_of(hint: Any) -> Any:
    """The struct inside ``hint`` (``S`` or ``S | UnsetType``), else None."""
    if _is_struct(hint):
        return hint
    for arg in getattr(hint, "__args__", ()):
        if _is_struct(arg):
            return arg
    return None
