"""A scripted local stand-in for the OpenAI Responses API, for driving the real Codex CLI.

Codex reaches it through a ``[model_providers.<name>]`` with ``base_url`` on 127.0.0.1 and
``wire_api = "responses"``. ``POST /v1/responses`` (streamed) consumes the script's next
turn: a function call (``exec_command`` with ``{"cmd": ...}``) or a final message, as the
Responses API's server-sent events; anything else is recorded as unknown and answered 404.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from e2e.stub_server import LoopbackServer, json_object, started_url

MODEL = "gpt-5-codex"
USAGE = (1200, 40)  # input and output tokens per scripted answer


@dataclass(frozen=True)
class Reply:
    text: str


@dataclass(frozen=True)
class FunctionCall:
    name: str
    arguments: Mapping[str, Any]


Turn = Reply | FunctionCall


@dataclass(frozen=True)
class CodexScript:
    name: str
    prompt: str
    turns: Sequence[Turn]


@dataclass(frozen=True)
class ResponsesRequest:
    path: str
    kind: str  # conversation, unknown
    body: Mapping[str, Any] | None

    def tool_names(self) -> list[str]:
        tools = (self.body or {}).get("tools") or []
        return [str(tool.get("name")) for tool in tools if isinstance(tool, dict)]

    def function_outputs(self) -> list[str]:
        items = (self.body or {}).get("input") or []
        return [
            str(item.get("output"))
            for item in items
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        ]


def _sse(data: Mapping[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _item(turn: Turn, number: int) -> dict[str, Any]:
    if isinstance(turn, Reply):
        return {
            "type": "message",
            "id": f"msg_{number}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
        }
    return {
        "type": "function_call",
        "id": f"fc_{number}",
        "status": "completed",
        "name": turn.name,
        "arguments": json.dumps(dict(turn.arguments)),
        "call_id": f"call_{number}",
    }


@dataclass
class ResponsesStub:
    script: CodexScript | None = None
    requests: list[ResponsesRequest] = field(default_factory=list)
    _turn_index: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return started_url(self._server, "ResponsesStub", "/v1")

    def use(self, script: CodexScript) -> None:
        self.script = script
        self._turn_index = 0

    def by_kind(self, kind: str) -> list[ResponsesRequest]:
        return [request for request in self.requests if request.kind == kind]

    async def start(self) -> None:
        self._server = LoopbackServer(self._dispatch)
        await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await json_object(request)
        kind = "conversation" if request.path.endswith("/responses") and body else "unknown"
        self.requests.append(ResponsesRequest(request.path, kind, body))
        if kind == "unknown":
            error = {"error": {"message": f"stub: no {request.path}", "type": "not_found"}}
            return web.json_response(error, status=404)
        number = next(self._ids)
        turn = self._next_turn()
        response_id = f"resp_{number}"
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {"id": response_id, "object": "response", "model": MODEL, "status": "in_progress"}
        await response.write(_sse({"type": "response.created", "response": base}))
        item = _item(turn, number)
        await response.write(
            _sse({"type": "response.output_item.added", "output_index": 0, "item": item})
        )
        await response.write(
            _sse({"type": "response.output_item.done", "output_index": 0, "item": item})
        )
        usage = {
            "input_tokens": USAGE[0],
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": USAGE[1],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": sum(USAGE),
        }
        done = {**base, "status": "completed", "output": [item], "usage": usage}
        await response.write(_sse({"type": "response.completed", "response": done}))
        await response.write_eof()
        return response

    def _next_turn(self) -> Turn:
        turns = self.script.turns if self.script else ()
        if self._turn_index < len(turns):
            turn = turns[self._turn_index]
            self._turn_index += 1
            return turn
        return Reply("Done.")
