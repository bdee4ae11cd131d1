"""The Messages stub itself: the paths the real client does not exercise in our scripts."""

from __future__ import annotations

import json

import aiohttp

from e2e.messages_stub import FINAL_TEXT, MessagesStub, Script, Text, ToolUse

TOOLS = [{"name": "Bash", "input_schema": {"type": "object"}}]


def sse_events(body: str) -> list[dict[str, object]]:
    return [
        json.loads(line.removeprefix("data: "))
        for line in body.splitlines()
        if line.startswith("data: ")
    ]


async def test_conversation_follows_the_script_and_side_requests_do_not_advance_it() -> None:
    script = Script("t", "p", [ToolUse("Bash", {"command": "echo hi"}), Text("second")], ("Bash",))
    async with MessagesStub(script) as stub, aiohttp.ClientSession() as http:
        url = f"{stub.base_url}/v1/messages?beta=true"
        conversation = {"model": "m", "stream": True, "tools": TOOLS, "messages": []}
        async with http.post(url, json=conversation) as response:
            first = sse_events(await response.text())
        async with http.post(url, json={"model": "haiku", "stream": True, "messages": []}) as r:
            side = sse_events(await r.text())
        async with http.post(url, json=conversation) as response:
            second = sse_events(await response.text())

    assert [event["type"] for event in first] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    partial = "".join(
        str(event["delta"]["partial_json"])  # type: ignore[index]
        for event in first
        if event["type"] == "content_block_delta" and event.get("index") == 1
    )
    assert json.loads(partial) == {"command": "echo hi"}
    assert first[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert side[2]["delta"] == {"type": "text_delta", "text": FINAL_TEXT}
    assert second[2]["delta"] == {"type": "text_delta", "text": "second"}
    assert [request.kind for request in stub.requests] == ["conversation", "side", "conversation"]


async def test_non_streaming_count_tokens_and_unknown_requests_are_answered_and_recorded() -> None:
    async with MessagesStub() as stub, aiohttp.ClientSession() as http:
        async with http.head(f"{stub.base_url}/") as probe:
            assert probe.status == 200
        async with http.post(
            f"{stub.base_url}/v1/messages", json={"model": "m", "tools": TOOLS, "messages": []}
        ) as whole:
            message = await whole.json()
        async with http.post(f"{stub.base_url}/v1/messages/count_tokens", json={}) as count:
            tokens = await count.json()
        async with http.get(f"{stub.base_url}/v1/models") as unknown:
            assert unknown.status == 404
            error = await unknown.json()

    assert message["content"] == [{"type": "text", "text": FINAL_TEXT}]
    assert message["stop_reason"] == "end_turn"
    assert tokens == {"input_tokens": 120}
    assert error["type"] == "error"
    assert [request.kind for request in stub.requests] == [
        "probe",
        "conversation",
        "count_tokens",
        "unknown",
    ]
