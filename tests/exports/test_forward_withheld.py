"""Forwards drop what ``--no-prompts`` / ``--no-tool-details`` withhold, as runtime.jsonl does.

Gemini CLI puts the ``-p`` prompt into its resource (``process.command_args``) whatever its
own switches say; a forward re-exports spool payloads, so it must drop the attribute too.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from beacon.exports.otlp import withhold
from beacon.pipeline.content import withheld_attributes

SPOOL = (
    Path(__file__).resolve().parents[1] / "fixtures" / "gemini-cli-0.61.0" / "spool.http-json.jsonl"
)
PROMPT = b"Run echo hi and write notes.txt"


def payloads() -> list[dict[str, object]]:
    return [orjson.loads(line) for line in SPOOL.read_bytes().splitlines()]


def test_no_prompts_drops_the_prompt_from_every_forwarded_payload() -> None:
    recorded = payloads()
    assert any(PROMPT in orjson.dumps(p) for p in recorded)  # the recording does carry it
    withheld = withheld_attributes(prompts=False, tool_details=True)
    for payload in recorded:
        before = orjson.dumps(payload)
        withhold(payload, withheld)
        after = orjson.dumps(payload)
        assert PROMPT not in after
        assert b'"process.command_args"' not in after
        # Everything else stays: service identity and the event names.
        assert (b'"service.name"' in after) == (b'"service.name"' in before)
        assert after.count(b'"event.name"') == before.count(b'"event.name"')


def test_with_every_switch_on_nothing_is_dropped() -> None:
    for payload in payloads():
        before = orjson.dumps(payload)
        assert (
            orjson.dumps(withhold(payload, withheld_attributes(prompts=True, tool_details=True)))
            == before
        )
