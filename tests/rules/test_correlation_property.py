"""The streaming correlation (bounded state) gives the verdicts of correlation.go's
all-anchors search, on arbitrary event sequences."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.rules.engine import RuleEngine, event_time
from beacon.rules.loader import parse_rule

ACTIONS = ("a", "b", "c", "x")


def correlation_rule(steps: int) -> Any:
    return parse_rule(
        {
            "id": "seq",
            "version": 1,
            "title": "T",
            "severity": "high",
            "status": "experimental",
            "posture": "detect",
            "correlation": {
                "scope": "session",
                "window": "60s",
                "steps": [
                    {"id": f"s{i}", "match": f'e.event.action == "{ACTIONS[i]}"'}
                    for i in range(steps)
                ],
            },
            "emit": {"reason": "r"},
            "tests": [{"name": "n", "verdict": "match", "events": [{}]}],
        }
    )


def go_sessions_matching(events: list[dict[str, Any]], steps: int, window: float) -> set[str]:
    """correlation.go: every step-0 event is an anchor; later steps at their earliest."""
    sessions: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        sessions.setdefault(event["session"]["id"], []).append(event)
    matched = set()
    for sid, group in sessions.items():
        for start, anchor in enumerate(group):
            if anchor["event"]["action"] != ACTIONS[0]:
                continue
            step, t0 = 1, event_time(anchor)
            for later in group[start + 1 :]:
                if later["event"]["action"] != ACTIONS[step]:
                    continue
                if step == steps - 1:
                    t1 = event_time(later)
                    if t0 is None or t1 is None or t1 - t0 <= window:
                        matched.add(sid)
                    break
                step += 1
            if sid in matched:
                break
    return matched


event_strategy = st.builds(
    lambda action, session, second: {
        "event": {"action": action},
        "session": {"id": session},
        **(
            {}
            if second is None
            else {"timestamp": f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}Z"}
        ),
    },
    st.sampled_from(ACTIONS),
    st.sampled_from(("s1", "s2")),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3599)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(event_strategy, max_size=14), st.integers(min_value=2, max_value=3))
def test_streaming_verdicts_equal_the_go_search(events: list[dict[str, Any]], steps: int) -> None:
    engine = RuleEngine([correlation_rule(steps)])
    for event in events:
        engine.feed(event)
    found = {f.session_id for f in engine.finish().findings}
    assert found == go_sessions_matching(events, steps, 60.0)
