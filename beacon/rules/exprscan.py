"""What a CEL match expression reads, found without the CEL engine.

The Go reference engine type-checks every expression against the event
struct, so a misspelt field (``e.fil.path``) fails at load. The Python CEL
engines do not type-check against a schema; this scanner finds every
``e.<path>`` selection in an expression (string literals skipped) so the
loader can reject unknown fields the same way, and so the evaluator knows
which fields to materialise per event.

It also finds an ``e.event.action == "x"`` (or ``in [...]``) conjunct at the
top of the expression: an event whose action is not among those cannot
match, so the rule is not evaluated on it at all (the pack's cost budget
depends on this).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?|0[xX][0-9a-fA-F]+)
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
    """,
    re.VERBOSE | re.DOTALL,
)


class ScanError(ValueError):
    """The expression has a character no CEL token starts with."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(expr: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(expr):
        found = _TOKEN.match(expr, position)
        if found is None:
            raise ScanError(f"unexpected character {expr[position]!r} at offset {position}")
        kind = found.lastgroup or "op"
        if kind != "space":
            tokens.append(Token(kind, found.group()))
        position = found.end()
    return tokens


def field_references(tokens: list[Token]) -> list[tuple[str, ...]]:
    """Every ``e.a.b.c`` chain (a method call's name excluded), in order."""
    refs: list[tuple[str, ...]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        previous = tokens[index - 1].text if index else ""
        if token.kind == "ident" and token.text == "e" and previous != ".":
            parts: list[str] = []
            cursor = index + 1
            while (
                cursor + 1 < len(tokens)
                and tokens[cursor].text == "."
                and tokens[cursor + 1].kind == "ident"
            ):
                following = tokens[cursor + 2].text if cursor + 2 < len(tokens) else ""
                if following == "(":
                    break  # a method: e.command.command.matches(...)
                parts.append(tokens[cursor + 1].text)
                cursor += 2
            refs.append(tuple(parts))
            index = cursor
            continue
        index += 1
    return refs


def _split_top_level(tokens: list[Token], operator: str) -> list[list[Token]] | None:
    """The operands of ``operator`` at depth 0; None when ``?:`` (or, for ``&&``, ``||``)
    sits at depth 0 and so binds looser."""
    looser = {"?"} if operator == "||" else {"?", "||"}
    depth = 0
    parts: list[list[Token]] = [[]]
    for token in tokens:
        if token.text in ("(", "[", "{"):
            depth += 1
        elif token.text in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and token.text in looser:
            return None
        elif depth == 0 and token.text == operator:
            parts.append([])
            continue
        parts[-1].append(token)
    return parts


def _strip_parens(tokens: list[Token]) -> list[Token]:
    """``(a && b)`` -> ``a && b`` when the outer parentheses enclose everything."""
    while len(tokens) >= 2 and tokens[0].text == "(" and tokens[-1].text == ")":
        depth = 0
        for index, token in enumerate(tokens):
            depth += token.text == "("
            depth -= token.text == ")"
            if depth == 0 and index < len(tokens) - 1:
                return tokens
        tokens = tokens[1:-1]
    return tokens


def _unquote(token: Token) -> str | None:
    text = token.text
    if token.kind != "string" or text[0] not in "'\"" or "\\" in text or text[:3] in ('"""', "'''"):
        return None
    return text[1:-1]


def _action_values(conjunct: list[Token]) -> frozenset[str] | None:
    texts = [t.text for t in conjunct]
    if texts[:5] != ["e", ".", "event", ".", "action"] or len(texts) < 7:
        return None
    operator, rest = texts[5], conjunct[6:]
    if operator == "==" and len(rest) == 1:
        value = _unquote(rest[0])
        return None if value is None else frozenset({value})
    if operator == "in" and rest and rest[0].text == "[" and rest[-1].text == "]":
        values: set[str] = set()
        for position, token in enumerate(rest[1:-1]):
            if position % 2 == 1:
                if token.text != ",":
                    return None
                continue
            value = _unquote(token)
            if value is None:
                return None
            values.add(value)
        return frozenset(values) if values else None
    return None


def action_filter(tokens: list[Token], depth: int = 0) -> frozenset[str] | None:
    """The actions an event must have for the expression to be true, or None (any).

    ``A && B``: A's or B's filter; ``A || B``: the union when both have one.
    """
    tokens = _strip_parens(tokens)
    disjuncts = _split_top_level(tokens, "||")
    if disjuncts is None or depth > 8:
        return None
    if len(disjuncts) > 1:
        union: set[str] = set()
        for disjunct in disjuncts:
            found = action_filter(disjunct, depth + 1)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    conjuncts = _split_top_level(tokens, "&&")
    if conjuncts is None:
        return None
    for conjunct in conjuncts:
        values = _action_values(_strip_parens(conjunct))
        if values is None and len(conjuncts) > 1 and _strip_parens(conjunct) != conjunct:
            values = action_filter(conjunct, depth + 1)
        if values is not None:
            return values
    return None
