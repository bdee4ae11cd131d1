"""A fast yes/no check of a runtime line against the runtime schema (pure).

Every line the pipeline writes is checked against the schema. fastjsonschema's
generated validator costs ~16 µs per Claude-shaped line (it copies each
object's key set and removes the keys one by one to find extra properties),
a sixth of the pipeline's CPU. ``compile_check`` turns the subset of JSON
Schema (draft-07) that the runtime schema uses into Python functions that only
answer valid or not: extra keys are found with one subset test, the properties
present are looked up once, leaves are tested inline. ~9 µs per line of the
benchmark. A line that fails goes to fastjsonschema for the error message
(``validate.validate_line``), so messages do not change.

The verdicts follow fastjsonschema's exactly, including its readings of the
draft: an integer may be a float with no fraction, a pattern's ``$`` matches
only at the very end, ``bool`` is neither integer nor number. The differential
tests in tests/pipeline/test_schemacheck.py hold the two to the same answers.
A schema keyword this module does not implement is an error at compile time,
never a check silently skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

Check = Callable[[Any], bool]

# Keywords that only document (no effect on validity).
_ANNOTATIONS = frozenset({"$id", "$schema", "title", "description", "$comment", "examples"})
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "items",
    "enum",
    "const",
    "minLength",
    "minimum",
    "pattern",
}
# Above this many properties an object's present keys are looked up in a table
# rather than each property fetched.
_FEW_PROPERTIES = 8
_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties", "propertyNames"})

# fastjsonschema's readings: an integer may be a float with no fraction; bool is
# neither integer nor number; arrays may be lists or tuples.
_TYPE_TESTS = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, (list, tuple))",
    "string": "isinstance({v}, str)",
    "boolean": "isinstance({v}, bool)",
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool)"
    " or isinstance({v}, float) and {v}.is_integer())",
    "number": "(isinstance({v}, (int, float, Decimal)) and not isinstance({v}, bool))",
    "null": "{v} is None",
}


class UnsupportedSchema(ValueError):
    """The schema uses a keyword or form this compiler does not implement."""


def _pattern(source: str) -> re.Pattern[str]:
    # ECMA-262's ``$`` matches only at the end; Python's also before a final newline.
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", source))


class _Generator:
    """Python source for one schema: a boolean expression per subschema, a function
    per object or array subschema, constants (patterns, key sets) as globals."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"Decimal": Decimal, "_MISSING": object()}
        self.functions: list[str] = []
        self.tables: list[str] = []  # dicts of functions, defined after the functions

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def test(self, schema: Any, v: str) -> str:
        """A boolean expression: is the value in variable ``v`` valid against ``schema``."""
        if schema is True:
            return "True"
        if schema is False:
            return "False"
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(f"a schema must be an object or a boolean, not {schema!r}")
        unknown = set(schema) - _SUPPORTED
        if unknown:
            raise UnsupportedSchema(f"schema keywords not supported: {sorted(unknown)}")
        kind = schema.get("type")
        if kind is not None and (not isinstance(kind, str) or kind not in _TYPE_TESTS):
            raise UnsupportedSchema(f"type {kind!r} is not supported (one type name only)")
        terms = [] if kind is None else [_TYPE_TESTS[kind].format(v=v)]

        def only_for(of_kind: str, term: str) -> str:
            # Keywords for one kind of value pass any value of another kind.
            if kind == of_kind or (of_kind == "number" and kind == "integer"):
                return term
            return f"(not {_TYPE_TESTS[of_kind].format(v=v)} or {term})"

        for keyword in ("const", "enum"):
            if keyword in schema:
                allowed = [schema["const"]] if keyword == "const" else list(schema["enum"])
                if not all(isinstance(item, str) for item in allowed):
                    # JSON equality differs from Python's for numbers and booleans.
                    raise UnsupportedSchema(f"{keyword} is supported for strings only")
                terms.append(f"isinstance({v}, str) and {v} in {self.constant(frozenset(allowed))}")
        if "minLength" in schema:
            terms.append(only_for("string", f"len({v}) >= {int(schema['minLength'])}"))
        if "pattern" in schema:
            search = self.constant(_pattern(schema["pattern"]).search)
            terms.append(only_for("string", f"{search}({v}) is not None"))
        if "minimum" in schema:
            minimum = schema["minimum"]
            if not isinstance(minimum, int | float) or isinstance(minimum, bool):
                raise UnsupportedSchema(f"minimum must be a number, not {minimum!r}")
            terms.append(only_for("number", f"{v} >= {minimum!r}"))
        if "items" in schema:
            terms.append(f"{self.array_function(schema['items'])}({v})")
        if _OBJECT_KEYWORDS & set(schema):
            terms.append(f"{self.object_function(schema)}({v})")
        return " and ".join(f"({term})" for term in terms) if terms else "True"

    def function(self, lines: list[str], argument: str = "d") -> str:
        name = f"_f{len(self.functions)}"
        self.functions.append("\n".join([f"def {name}({argument}):", *lines]))
        return name

    def array_function(self, items: Any) -> str:
        if not isinstance(items, Mapping | bool):
            raise UnsupportedSchema("items must be one schema (tuple validation is not supported)")
        return self.function(
            [
                "    if not isinstance(d, (list, tuple)):",
                "        return True",
                "    for x in d:",
                f"        if not ({self.test(items, 'x')}):",
                "            return False",
                "    return True",
            ]
        )

    def object_function(self, schema: Mapping[str, Any]) -> str:
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = frozenset(schema.get("required", ()))
        additional = schema.get("additionalProperties", True)
        lines = ["    if not isinstance(d, dict):", "        return True"]
        if required:
            lines += [f"    if not {self.constant(required)} <= d.keys():", "        return False"]
        if additional is False:
            known = self.constant(frozenset(properties))
            lines += [f"    if not d.keys() <= {known}:", "        return False"]
        tests = {name: self.test(subschema, "x") for name, subschema in properties.items()}
        tests = {name: test for name, test in tests.items() if test != "True"}
        if len(tests) > _FEW_PROPERTIES:
            # Most of them absent: test the keys present, through a table of functions.
            table = f"_t{len(self.tables)}"
            entries = ", ".join(
                f"{name!r}: {self.function([f'    return {test}'], 'x')}"
                for name, test in tests.items()
            )
            self.tables.append(f"{table} = {{{entries}}}")
            lines += [
                "    for k, x in d.items():",
                f"        t = {table}.get(k)",
                "        if t is not None and not t(x):",
                "            return False",
            ]
        else:
            for name, test in tests.items():
                lines += [
                    f"    x = d.get({name!r}, _MISSING)",
                    f"    if x is not _MISSING and not ({test}):",
                    "        return False",
                ]
        names = schema.get("propertyNames", True)
        extra = "True" if additional is False else self.test(additional, "x")
        if names is not True or extra != "True":
            known = self.constant(frozenset(properties))
            lines += [
                "    for k, x in d.items():",
                f"        if not ({self.test(names, 'k')}):",
                "            return False",
                f"        if k not in {known} and not ({extra}):",
                "            return False",
            ]
        lines.append("    return True")
        return self.function(lines)


def compile_check(schema: Any) -> Check:
    """A function telling whether a value (parsed JSON) is valid against ``schema``."""
    generator = _Generator()
    root = generator.test(schema, "d")
    source = "\n\n".join(
        [*generator.functions, *generator.tables, f"def check(d):\n    return {root}"]
    )
    namespace = generator.namespace
    exec(compile(source, "<runtime schema check>", "exec"), namespace)  # noqa: S102
    check: Check = namespace["check"]
    return check
