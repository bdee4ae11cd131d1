"""A scripted local stand-in for the Gemini API, for driving the real Gemini CLI.

Gemini CLI talks to ``GOOGLE_GEMINI_BASE_URL``; pointing it here keeps every byte on
127.0.0.1. The stub answers:

* ``POST /v1beta/models/<model>:streamGenerateContent`` (``?alt=sse``) and
  ``:generateContent`` -- a *conversation* request (one that declares ``tools``) consumes
  the script's next turn; any other (the model router's utility call) gets a short text
  answer and does not advance the script;
* ``:countTokens`` -- a token count;
* anything else -- recorded as unknown and answered 404 in the API's error shape.

Every request is recorded so tests can assert what the CLI sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from e2e.stub_server import LoopbackServer, json_object, started_url

MODEL = "gemini-2.5-pro"
USAGE = (100, 20)  # prompt and candidate tokens per scripted answer
# The model router's classifier call expects this JSON (a malformed answer only logs a
# stack trace and falls back to the default model).
ROUTER_ANSWER = '{"complexity_reasoning": "a scripted task", "complexity_score": 10}'


@dataclass(frozen=True)
class Say:
    """Answer with text and finish the turn."""

    text: str


@dataclass(frozen=True)
class Call:
    """Answer with one function call (``run_shell_command``, ``write_file``...)."""

    name: str
    args: Mapping[str, Any]


Turn = Say | Call


@dataclass(frozen=True)
class GeminiScript:
    name: str
    prompt: str
    turns: Sequence[Turn]


@dataclass(frozen=True)
class GeminiRequest:
    path: str
    kind: str  # conversation, utility, count_tokens, unknown
    body: Mapping[str, Any] | None

    def function_responses(self) -> list[dict[str, Any]]:
        contents = (self.body or {}).get("contents") or []
        last = contents[-1] if contents else {}
        return [
            part["functionResponse"] for part in last.get("parts", []) if "functionResponse" in part
        ]


def _candidate(turn: Turn) -> dict[str, Any]:
    part: dict[str, Any]
    if isinstance(turn, Say):
        part = {"text": turn.text}
    else:
        part = {"functionCall": {"name": turn.name, "args": dict(turn.args)}}
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": USAGE[0],
            "candidatesTokenCount": USAGE[1],
            "totalTokenCount": sum(USAGE),
        },
        "modelVersion": MODEL,
    }


@dataclass
class GeminiStub:
    script: GeminiScript | None = None
    requests: list[GeminiRequest] = field(default_factory=list)
    _turn_index: int = 0
    _server: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return started_url(self._server, "GeminiStub")

    def use(self, script: GeminiScript) -> None:
        self.script = script
        self._turn_index = 0

    def by_kind(self, kind: str) -> list[GeminiRequest]:
        return [request for request in self.requests if request.kind == kind]

    async def start(self) -> None:
        self._server = LoopbackServer(self._dispatch)
        await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await json_object(request)
        path = request.path
        method = path.rsplit(":", 1)[-1] if ":" in path else ""
        if method in ("streamGenerateContent", "generateContent"):
            kind = "conversation" if (body or {}).get("tools") else "utility"
        elif method == "countTokens":
            kind = "count_tokens"
        else:
            kind = "unknown"
        self.requests.append(GeminiRequest(path, kind, body))
        if kind == "unknown":
            error = {"error": {"code": 404, "message": f"stub: no {path}", "status": "NOT_FOUND"}}
            return web.json_response(error, status=404)
        if kind == "count_tokens":
            return web.json_response({"totalTokens": USAGE[0]})
        turn = self._next_turn() if kind == "conversation" else Say(ROUTER_ANSWER)
        answer = _candidate(turn)
        if method == "generateContent":
            return web.json_response(answer)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: " + json.dumps(answer).encode() + b"\r\n\r\n")
        await response.write_eof()
        return response

    def _next_turn(self) -> Turn:
        turns = self.script.turns if self.script else ()
        if self._turn_index < len(turns):
            turn = turns[self._turn_index]
            self._turn_index += 1
            return turn
        return Say("Done.")
