"""A CEL compiler for rule match expressions: parse once, evaluate as Python closures.

Why not a CEL library (measured, docs/rules.md "CEL engine"): the Rust-backed
``common-expression-language`` converts the activation on every call and
recompiles a ``matches`` regex on every evaluation (0.3-1 ms per call), and
the pure-Python ``cel-python`` takes ~5 ms per evaluation; the pipeline spends
~60-100 µs per event. This module implements the part of CEL the Beacon rule
format uses, with the standard environment's semantics:

- the event is ``e``; field paths are checked against the 1.0 event schema at
  compile time (an unknown field is an error, as in the Go engine's type check),
  and an absent field reads as its type's zero value (``beacon.rules.fields``);
- operators ``! - * / % + - < <= > >= == != in && || ?:``, lists, maps, indexing;
- the standard functions ``size contains startsWith endsWith matches`` and the
  conversions ``int uint double string bool bytes``; the macros ``has all exists
  exists_one map filter``;
- ``&&`` / ``||`` absorb an error when the other side decides (``false && err``
  is false), numbers compare across int and double, values of different types
  are not equal, ``+`` on mixed types is an error;
- ``matches`` is RE2 (google-re2, the engine cel-go uses), compiled once per
  literal pattern.

A static pass infers types from the schema and rejects what the Go checker
rejects most visibly: a non-bool result, ``string == int``, ``size`` of a
number, an unknown function.
"""

from __future__ import annotations

import ast as pyast
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from beacon.rules.exprscan import ScanError, Token, action_filter, tokenize
from beacon.rules.fields import event_fields, object_paths

Fn = Callable[[dict[str, Any]], Any]
EVENT_VAR = "e"


class CelError(ValueError):
    """A compile error: syntax, unknown field or function, wrong types."""


class CelEvalError(RuntimeError):
    """An evaluation error on one event (no such overload, division by zero...)."""


@cache
def _re2() -> Any:
    import re2

    return re2


class _Search:
    """``matches()``: an unanchored RE2 search answering only "is there a match".

    A one-pattern ``RE2::Set`` runs RE2's DFA without computing submatches: ~4x
    cheaper per call than ``re2.compile(p).search`` (which decodes group offsets).
    The pattern is compiled with ``re2.compile`` first for RE2's error message.
    """

    def __init__(self, pattern: str) -> None:
        re2 = _re2()
        options = re2.Options()
        options.log_errors = False
        try:
            re2.compile(pattern, options)
        except re2.error as exc:
            raise CelEvalError(f"invalid regex {pattern!r}: {exc}") from exc
        self._set = re2._re2.Set(re2._Anchor.UNANCHORED, options)
        if self._set.Add(pattern.encode("utf-8")) != 0 or not self._set.Compile():
            raise CelEvalError(f"invalid regex {pattern!r}")

    def search(self, text: str) -> bool:
        return bool(self._set.Match(text.encode("utf-8", "surrogatepass")))


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> _Search:
    return _Search(pattern)


# -- types -------------------------------------------------------------------------------
NUMERIC = frozenset({"int", "uint", "double"})


def _type_of_value(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    if value is None:
        return "null"
    return "dyn"


@dataclass(frozen=True)
class Node:
    fn: Fn
    type: str = "dyn"
    path: tuple[str, ...] | None = None  # e.<path> selections
    const: Any = None
    is_const: bool = False


def _const(value: Any) -> Node:
    return Node(lambda _a: value, _type_of_value(value), const=value, is_const=True)


# -- runtime helpers -----------------------------------------------------------------------
def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _comparable(a: Any, b: Any, op: str) -> None:
    numeric_a = isinstance(a, (int, float)) and not isinstance(a, bool)
    numeric_b = isinstance(b, (int, float)) and not isinstance(b, bool)
    if numeric_a and numeric_b:
        return
    if type(a) is type(b) and isinstance(a, (str, bytes, bool)):
        return
    raise CelEvalError(f"no such overload: {_type_of_value(a)} {op} {_type_of_value(b)}")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _arith(op: str, a: Any, b: Any) -> Any:
    ta, tb = _type_of_value(a), _type_of_value(b)
    if ta != tb:
        raise CelEvalError(f"no such overload: {ta} {op} {tb}")
    if op == "+":
        if ta in ("int", "double", "string", "bytes", "list"):
            return a + b
    elif ta in ("int", "double"):
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op in ("/", "%") and b == 0:
            raise CelEvalError("division by zero" if op == "/" else "modulus by zero")
        if op == "/":
            return a / b if ta == "double" else int(a / b)
        if op == "%" and ta == "int":
            return a - b * int(a / b)
    raise CelEvalError(f"no such overload: {ta} {op} {tb}")


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise CelEvalError(f"no such overload: {what} applied to {_type_of_value(value)}")
    return value


def _select(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if name in value:
            return value[name]
        raise CelEvalError(f"no such key: {name}")
    raise CelEvalError(f"type {_type_of_value(value)} does not support field selection")


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, list):
        if not isinstance(key, (int, float)) or isinstance(key, bool) or int(key) != key:
            raise CelEvalError("invalid list index")
        if not 0 <= int(key) < len(value):
            raise CelEvalError(f"index out of range: {key}")
        return value[int(key)]
    if isinstance(value, dict):
        for candidate in value:
            if _equal(candidate, key):
                return value[candidate]
        raise CelEvalError(f"no such key: {key!r}")
    raise CelEvalError(f"type {_type_of_value(value)} does not support indexing")


def _in(item: Any, container: Any) -> bool:
    if isinstance(container, list):
        return any(_equal(item, x) for x in container)
    if isinstance(container, dict):
        return any(_equal(item, k) for k in container)
    raise CelEvalError(f"no such overload: in {_type_of_value(container)}")


def _size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, dict)):
        return len(value)
    raise CelEvalError(f"no such overload: size({_type_of_value(value)})")


def _string_method(name: str, target: Any, arg: Any) -> bool:
    if not isinstance(target, str) or not isinstance(arg, str):
        raise CelEvalError(
            f"no such overload: {_type_of_value(target)}.{name}({_type_of_value(arg)})"
        )
    if name == "contains":
        return arg in target
    if name == "startsWith":
        return target.startswith(arg)
    if name == "endsWith":
        return target.endswith(arg)
    return _regex(arg).search(target)


def _convert(name: str, value: Any) -> Any:
    try:
        if name == "string":
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, bytes):
                return value.decode("utf-8")
            if isinstance(value, (str, int, float)):
                return str(value)
        elif name in ("int", "uint"):
            if isinstance(value, bool):
                raise CelEvalError(f"no such overload: {name}(bool)")
            if isinstance(value, float):
                return int(value)
            if isinstance(value, (int, str)):
                return int(value)
        elif name == "double":
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                return float(value)
        elif name == "bool":
            if isinstance(value, bool):
                return value
            if value in ("true", "false"):
                return value == "true"
        elif name == "bytes":
            if isinstance(value, bytes):
                return value
            if isinstance(value, str):
                return value.encode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CelEvalError(f"{name}({value!r}): {exc}") from exc
    raise CelEvalError(f"no such overload: {name}({_type_of_value(value)})")


# -- parser ----------------------------------------------------------------------------------
_RELATIONS = ("==", "!=", "<", "<=", ">", ">=", "in")
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_METHODS = frozenset({"contains", "startsWith", "endsWith", "matches", "size"})
_CONVERSIONS = frozenset({"int", "uint", "double", "string", "bool", "bytes"})
_RESERVED = frozenset({"true", "false", "null"})


def _string_literal(text: str) -> Any:
    prefix = ""
    while text and text[0] in "rRbB":
        prefix += text[0].lower()
        text = text[1:]
    quote = text[:3] if text[:3] in ('"""', "'''") else text[0]
    body = text[len(quote) : -len(quote)]
    if "r" in prefix:
        value: Any = body
    else:
        try:
            value = pyast.literal_eval(quote + body + quote)
        except (ValueError, SyntaxError) as exc:
            raise CelError(f"invalid string literal {text!r}") from exc
    if "b" in prefix:
        return value.encode("utf-8") if isinstance(value, str) else value
    return value


class _Parser:
    def __init__(self, tokens: list[Token], scope: frozenset[str] = frozenset()) -> None:
        self.tokens = tokens
        self.position = 0
        self.scope = scope  # comprehension variables
        self.paths: list[tuple[str, ...]] = []

    # token helpers
    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def text(self, offset: int = 0) -> str:
        token = self.peek(offset)
        return token.text if token is not None else ""

    def unexpected(self, expected: str) -> str:
        if self.peek() is None:
            return f"unexpected end of expression, expected {expected}"
        return f"expected {expected}, got {self.text()!r}"

    def take(self, expected: str | None = None) -> Token:
        token = self.peek()
        if token is None:
            raise CelError(
                f"unexpected end of expression{f', expected {expected!r}' if expected else ''}"
            )
        if expected is not None and token.text != expected:
            raise CelError(f"expected {expected!r}, got {token.text!r}")
        self.position += 1
        return token

    # grammar
    def parse(self) -> Node:
        node = self.conditional()
        if self.peek() is not None:
            raise CelError(f"unexpected {self.text()!r}")
        return node

    def conditional(self) -> Node:
        condition = self.logical_or()
        if self.text() != "?":
            return condition
        self.take("?")
        then = self.conditional()
        self.take(":")
        otherwise = self.conditional()
        _expect_type(condition, "bool", "?:")
        c, t, o = condition.fn, then.fn, otherwise.fn
        result_type = then.type if then.type == otherwise.type else "dyn"
        return Node(lambda a: t(a) if _bool(c(a), "?:") else o(a), result_type)

    def logical_or(self) -> Node:
        node = self.logical_and()
        while self.text() == "||":
            self.take()
            node = _logical(node, self.logical_and(), is_and=False)
        return node

    def logical_and(self) -> Node:
        node = self.relation()
        while self.text() == "&&":
            self.take()
            node = _logical(node, self.relation(), is_and=True)
        return node

    def relation(self) -> Node:
        node = self.additive()
        while self.text() in _RELATIONS:
            op = self.take().text
            node = _relation(op, node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.text() in ("+", "-"):
            op = self.take().text
            node = _arithmetic(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.text() in ("*", "/", "%"):
            op = self.take().text
            node = _arithmetic(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.text() == "!":
            self.take()
            inner = self.unary()
            _expect_type(inner, "bool", "!")
            fn = inner.fn
            return Node(lambda a: not _bool(fn(a), "!"), "bool")
        if self.text() == "-":
            self.take()
            inner = self.unary()
            if inner.is_const and isinstance(inner.const, (int, float)):
                return _const(-inner.const)
            fn = inner.fn
            return Node(
                lambda a: _arith("-", 0 if isinstance(v := fn(a), int) else 0.0, v), inner.type
            )
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.text() == ".":
                self.take()
                name = self.take()
                if name.kind != "ident":
                    raise CelError(f"expected a field name after '.', got {name.text!r}")
                if self.text() == "(":
                    node = self.method(node, name.text)
                else:
                    node = self.select(node, name.text)
            elif self.text() == "[":
                self.take()
                key = self.conditional()
                self.take("]")
                target, key_fn = node.fn, key.fn
                node = _index_node(target, key_fn)
            else:
                return node

    def select(self, node: Node, name: str) -> Node:
        if node.path is not None:
            path = (*node.path, name)
            dotted = ".".join(path)
            fields = event_fields()
            if dotted in fields:
                field_type = fields[dotted]
            elif dotted in object_paths():
                field_type = "map"
            else:
                raise CelError(f"undefined field {dotted!r} (not in the Beacon event schema)")
            self.paths.append(path)
            return Node(_path_reader(path), field_type, path=path)
        if node.type in ("string", "int", "uint", "double", "bool", "bytes", "list"):
            raise CelError(f"type {node.type} does not support field selection")
        target = node.fn
        return Node(lambda a: _select(target(a), name))

    def arguments(self) -> list[Node]:
        self.take("(")
        args: list[Node] = []
        while self.text() != ")":
            args.append(self.conditional())
            if self.text() == ",":
                self.take()
            elif self.text() != ")":
                raise CelError(self.unexpected("',' or ')'"))
        self.take(")")
        return args

    def method(self, target: Node, name: str) -> Node:
        if name in _MACROS:
            return self.macro(target, name)
        args = self.arguments()
        if name not in _METHODS:
            raise CelError(f"undeclared reference to function {name!r}")
        if name == "size":
            if args:
                raise CelError("size() takes no arguments as a method")
            return _size_node(target)
        if len(args) != 1:
            raise CelError(f"{name}() takes one argument")
        arg = args[0]
        for node in (target, arg):
            if node.type not in ("string", "dyn"):
                raise CelError(f"found no matching overload for {name!r} applied to {node.type}")
        t = target.fn
        if name == "matches" and arg.is_const:
            regex = _compile_literal_regex(arg.const)

            def matches(a: dict[str, Any]) -> bool:
                value = t(a)
                if not isinstance(value, str):
                    raise CelEvalError(f"no such overload: {_type_of_value(value)}.matches")
                return regex.search(value)

            return Node(matches, "bool")
        if arg.is_const and name in ("contains", "startsWith", "endsWith"):
            literal = arg.const

            def literal_method(a: dict[str, Any]) -> bool:
                value = t(a)
                if type(value) is str:
                    if name == "contains":
                        return literal in value
                    return (
                        value.startswith(literal)
                        if name == "startsWith"
                        else value.endswith(literal)
                    )
                return _string_method(name, value, literal)

            return Node(literal_method, "bool")
        f = arg.fn
        return Node(lambda a: _string_method(name, t(a), f(a)), "bool")

    def macro(self, target: Node, name: str) -> Node:
        self.take("(")
        variable = self.take()
        if variable.kind != "ident":
            raise CelError(f"{name}() needs a variable name first")
        self.take(",")
        inner = _Parser(self.tokens, self.scope | {variable.text})
        inner.position = self.position
        bodies = [inner.conditional()]
        while inner.text() == ",":
            inner.take()
            bodies.append(inner.conditional())
        inner.take(")")
        self.position = inner.position
        self.paths.extend(inner.paths)
        return _comprehension(name, target, variable.text, bodies)

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return _const(_number(token.text))
        if token.kind == "string":
            return _const(_string_literal(token.text))
        if token.text == "(":
            node = self.conditional()
            self.take(")")
            return node
        if token.text == "[":
            items: list[Node] = []
            while self.text() != "]":
                items.append(self.conditional())
                if self.text() == ",":
                    self.take()
                elif self.text() != "]":
                    raise CelError(self.unexpected("',' or ']'"))
            self.take("]")
            if all(i.is_const for i in items):
                return _const([i.const for i in items])
            fns = [i.fn for i in items]
            return Node(lambda a: [f(a) for f in fns], "list")
        if token.text == "{":
            return self.map_literal()
        if token.kind != "ident":
            raise CelError(f"unexpected {token.text!r}")
        if token.text == "true":
            return _const(True)
        if token.text == "false":
            return _const(False)
        if token.text == "null":
            return _const(None)
        if self.text() == "(":
            return self.global_call(token.text)
        if token.text in self.scope:
            name = token.text
            return Node(lambda a: a[name])
        if token.text == EVENT_VAR:
            return Node(lambda a: a[EVENT_VAR], "map", path=())
        raise CelError(f"undeclared reference to {token.text!r}")

    def map_literal(self) -> Node:
        entries: list[tuple[Node, Node]] = []
        while self.text() != "}":
            key = self.conditional()
            self.take(":")
            entries.append((key, self.conditional()))
            if self.text() == ",":
                self.take()
            elif self.text() != "}":
                raise CelError(self.unexpected("',' or '}'"))
        self.take("}")
        pairs = [(k.fn, v.fn) for k, v in entries]
        return Node(lambda a: {k(a): v(a) for k, v in pairs}, "map")

    def global_call(self, name: str) -> Node:
        if name == "has":
            self.take("(")
            start = len(self.paths)
            inner = self.conditional()
            self.take(")")
            if inner.path is None or not inner.path:
                raise CelError("has() needs a field selection, such as has(e.command.command)")
            del self.paths[start:]
            self.paths.append(inner.path)
            reader = inner.fn
            return Node(lambda a: _is_set(reader(a)), "bool")
        args = self.arguments()
        if name == "size" and len(args) == 1:
            return _size_node(args[0])
        if name in _CONVERSIONS and len(args) == 1:
            fn = args[0].fn
            return Node(lambda a: _convert(name, fn(a)), name)
        if name in _METHODS and len(args) == 2:
            return self.method_from_global(name, args)
        raise CelError(f"undeclared reference to function {name!r}")

    def method_from_global(self, name: str, args: list[Node]) -> Node:
        t, f = args[0].fn, args[1].fn
        return Node(lambda a: _string_method(name, t(a), f(a)), "bool")


def _index_node(target: Fn, key: Fn) -> Node:
    return Node(lambda a: _index(target(a), key(a)))


def _number(text: str) -> int | float:
    lowered = text.lower().rstrip("u")
    if lowered.startswith("0x"):
        return int(lowered, 16)
    if any(c in lowered for c in ".e"):
        return float(lowered)
    return int(lowered)


def _path_reader(path: tuple[str, ...]) -> Fn:
    def read(a: dict[str, Any]) -> Any:
        node: Any = a[EVENT_VAR]
        for part in path:
            node = node[part]
        return node

    return read


def _is_set(value: Any) -> bool:
    return value not in ("", 0, 0.0, False, None) and value != [] and value != {}


def _compile_literal_regex(pattern: Any) -> _Search:
    if not isinstance(pattern, str):
        raise CelError("matches() needs a string pattern")
    try:
        return _regex(pattern)
    except CelEvalError as exc:
        raise CelError(str(exc)) from exc


def _expect_type(node: Node, wanted: str, where: str) -> None:
    if node.type not in (wanted, "dyn"):
        raise CelError(f"found no matching overload for {where!r} applied to {node.type}")


def _logical(left: Node, right: Node, *, is_and: bool) -> Node:
    _expect_type(left, "bool", "&&" if is_and else "||")
    _expect_type(right, "bool", "&&" if is_and else "||")
    lf, rf = left.fn, right.fn
    decisive = not is_and  # the value that decides: false for &&, true for ||

    def logical(a: dict[str, Any]) -> bool:
        try:
            lv = lf(a)
            if not isinstance(lv, bool):
                raise CelEvalError("no such overload: logical operator on a non-bool")
        except CelEvalError:
            if rf(a) is decisive:
                return not is_and
            raise
        if lv is decisive:
            return decisive
        return _bool(rf(a), "&&" if is_and else "||")

    return Node(logical, "bool")


def _same_kind(a: str, b: str) -> bool:
    if "dyn" in (a, b) or a == b:
        return True
    if a == "null" or b == "null":
        return a in ("map", "list", "null") or b in ("map", "list", "null")
    return False


def _relation(op: str, left: Node, right: Node) -> Node:
    lf, rf = left.fn, right.fn
    if op == "in":
        if right.type not in ("list", "map", "dyn"):
            raise CelError(f"found no matching overload for 'in' applied to {right.type}")
        if (
            right.is_const
            and isinstance(right.const, list)
            and all(isinstance(x, str) for x in right.const)
        ):
            members = frozenset(right.const)
            return Node(lambda a: (v := lf(a)) in members and isinstance(v, str), "bool")
        return Node(lambda a: _in(lf(a), rf(a)), "bool")
    numeric = left.type in NUMERIC and right.type in NUMERIC
    if not numeric and not _same_kind(left.type, right.type):
        raise CelError(
            f"found no matching overload for '{op}' applied to ({left.type}, {right.type})"
        )
    if op in ("==", "!="):
        negate = op == "!="
        if right.is_const and isinstance(right.const, str):
            literal = right.const
            if negate:
                return Node(lambda a: lf(a) != literal, "bool")
            return Node(lambda a: lf(a) == literal, "bool")
        return Node(lambda a: _equal(lf(a), rf(a)) != negate, "bool")
    compare = _COMPARE[op]

    def relation(a: dict[str, Any]) -> bool:
        lv, rv = lf(a), rf(a)
        _comparable(lv, rv, op)
        return compare(lv, rv)

    return Node(relation, "bool")


def _arithmetic(op: str, left: Node, right: Node) -> Node:
    known = {left.type, right.type} - {"dyn"}
    if len(known) == 2:
        raise CelError(
            f"found no matching overload for '{op}' applied to ({left.type}, {right.type})"
        )
    lf, rf = left.fn, right.fn
    result = next(iter(known)) if known else "dyn"
    return Node(lambda a: _arith(op, lf(a), rf(a)), result)


def _size_node(target: Node) -> Node:
    if target.type not in ("string", "bytes", "list", "map", "dyn"):
        raise CelError(f"found no matching overload for 'size' applied to {target.type}")
    fn = target.fn
    return Node(lambda a: _size(fn(a)), "int")


def _iterable(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value)
    raise CelEvalError(f"cannot iterate over {_type_of_value(value)}")


def _comprehension(name: str, target: Node, variable: str, bodies: list[Node]) -> Node:
    tf = target.fn
    fns = [b.fn for b in bodies]

    def bind(a: dict[str, Any], item: Any) -> dict[str, Any]:
        scoped = dict(a)
        scoped[variable] = item
        return scoped

    if name in ("all", "exists", "exists_one", "filter") and len(fns) != 1:
        raise CelError(f"{name}() takes a variable and one expression")
    if name in ("all", "exists"):
        decisive = name == "exists"  # exists: any true decides; all: any false decides

        def quantifier(a: dict[str, Any]) -> bool:
            error: CelEvalError | None = None
            for item in _iterable(tf(a)):
                try:
                    if _bool(fns[0](bind(a, item)), name) is decisive:
                        return decisive
                except CelEvalError as exc:
                    error = error or exc  # CEL: an error counts only if nothing decides
            if error is not None:
                raise error
            return not decisive

        return Node(quantifier, "bool")
    if name == "exists_one":
        return Node(
            lambda a: (
                sum(1 for x in _iterable(tf(a)) if _bool(fns[0](bind(a, x)), "exists_one")) == 1
            ),
            "bool",
        )
    if name == "filter":
        return Node(
            lambda a: [x for x in _iterable(tf(a)) if _bool(fns[0](bind(a, x)), "filter")], "list"
        )
    if len(fns) == 1:
        return Node(lambda a: [fns[0](bind(a, x)) for x in _iterable(tf(a))], "list")
    if len(fns) == 2:
        keep, transform = fns
        return Node(
            lambda a: [
                transform(bind(a, x)) for x in _iterable(tf(a)) if _bool(keep(bind(a, x)), "map")
            ],
            "list",
        )
    raise CelError("map() takes a variable and one or two expressions")


# -- public --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompiledExpression:
    text: str
    fn: Fn
    paths: tuple[tuple[str, ...], ...]
    actions: frozenset[str] | None

    def evaluate(self, activation: dict[str, Any]) -> bool:
        value = self.fn(activation)
        if not isinstance(value, bool):
            raise CelEvalError(f"match expression returned {_type_of_value(value)}, want bool")
        return value


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> CompiledExpression:
    """Compile one match expression (cached by its text); :class:`CelError` when invalid."""
    if not text.strip():
        raise CelError("empty match expression")
    try:
        tokens = tokenize(text)
    except ScanError as exc:
        raise CelError(f"syntax error: {exc}") from exc
    parser = _Parser(tokens)
    node = parser.parse()
    if node.type not in ("bool", "dyn"):
        raise CelError(f"match expression must evaluate to bool, got {node.type}")
    selected = [p for p in dict.fromkeys(parser.paths) if p]
    # e.command.command also selects e.command on the way: keep the longest paths only.
    paths = tuple(
        p for p in selected if not any(len(q) > len(p) and q[: len(p)] == p for q in selected)
    )
    return CompiledExpression(text, node.fn, paths, action_filter(tokens))
