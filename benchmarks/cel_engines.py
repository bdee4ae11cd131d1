"""How the CEL engines compare on rule files (the measurement behind docs/rules.md).

    pip install common-expression-language cel-python   # the two candidates, not deps
    python -m benchmarks.cel_engines RULES_DIR [RULES_DIR...]

For each engine: import time, compile time per expression, time per evaluation of a
``matches`` expression on a command event, and how many of the rule files' embedded
tests it passes when it evaluates every expression (the same Go-engine verdict logic
and the same zero-filled event for all three: ``beacon.rules.engine.Projection``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

Evaluator = Callable[[str], Callable[[dict[str, Any]], bool]]


def _beacon() -> Evaluator:
    from beacon.rules.cel import compile_expression

    def compile_one(text: str) -> Callable[[dict[str, Any]], bool]:
        program = compile_expression(text)
        return lambda event: program.evaluate({"e": event})

    return compile_one


def _rust() -> Evaluator:
    import cel

    def compile_one(text: str) -> Callable[[dict[str, Any]], bool]:
        program = cel.compile(text)
        return lambda event: bool(program.execute(cel.Context({"e": event})))

    return compile_one


def _celpy() -> Evaluator:
    import celpy

    env = celpy.Environment()

    def compile_one(text: str) -> Callable[[dict[str, Any]], bool]:
        program = env.program(env.compile(text))
        return lambda event: bool(program.evaluate({"e": celpy.json_to_cel(event)}))

    return compile_one


ENGINES: dict[str, Callable[[], Evaluator]] = {
    "beacon.rules.cel": _beacon,
    "common-expression-language": _rust,
    "cel-python": _celpy,
}


def _verdict(rule: Any, programs: list[Any], events: list[dict[str, Any]]) -> str:
    from beacon.rules.engine import Projection, event_time

    paths = {p for _, text in rule.expressions() for p in _paths(text)}
    projection = Projection(paths)
    views = [projection.build(e)[0] for e in events]
    if rule.correlation is None:
        return "match" if any(programs[0](v) for v in views) else "no_match"
    window = rule.correlation.window_s
    sessions: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        sessions.setdefault(str((event.get("session") or {}).get("id", "")), []).append(index)
    for indexes in sessions.values():
        for start_at, start in enumerate(indexes):
            if not programs[0](views[start]):
                continue
            step, t0 = 1, event_time(events[start])
            for later in indexes[start_at + 1 :]:
                if programs[step](views[later]):
                    if step == len(programs) - 1:
                        t1 = event_time(events[later])
                        if t0 is None or t1 is None or t1 - t0 <= window:
                            return "match"
                        break
                    step += 1
    return "no_match"


def _paths(text: str) -> tuple[tuple[str, ...], ...]:
    from beacon.rules.cel import compile_expression

    return compile_expression(text).paths


def faithfulness(compile_one: Evaluator, rules: list[Any]) -> tuple[int, int, int]:
    passed = failed = errors = 0
    for rule in rules:
        try:
            programs = [compile_one(text) for _, text in rule.expressions()]
        except Exception:
            errors += len(rule.tests)
            continue
        for fixture in rule.tests:
            try:
                verdict = _verdict(rule, programs, list(fixture.events))
            except Exception:
                errors += 1
                continue
            if verdict == fixture.verdict:
                passed += 1
            else:
                failed += 1
    return passed, failed, errors


def main(directories: list[str]) -> None:
    from beacon.rules.loader import load_rules

    rules = [r for r in load_rules(directories) if r.kind != "budget"]
    expression = (
        'e.event.action == "command.executed" && '
        'e.command.command.matches("\\\\b(curl|wget)\\\\b[^|]*\\\\|\\\\s*(ba)?sh\\\\b")'
    )
    event = {"event": {"action": "command.executed"}, "command": {"command": "npm test -- -q"}}
    for name, make in ENGINES.items():
        started = time.perf_counter()
        compile_one = make()
        imported = time.perf_counter() - started
        started = time.perf_counter()
        program = compile_one(expression)
        compiled = time.perf_counter() - started
        runs = 2000 if name != "cel-python" else 200
        started = time.perf_counter()
        for _ in range(runs):
            program(event)
        per_eval = (time.perf_counter() - started) / runs
        passed, failed, errors = faithfulness(compile_one, rules)
        print(
            f"{name}: import {imported * 1e3:.0f} ms, compile {compiled * 1e3:.2f} ms, "
            f"eval {per_eval * 1e6:.1f} us; fixtures {passed} passed, {failed} failed, "
            f"{errors} errors (of {passed + failed + errors})",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
