"""A scripted local stand-in for the Anthropic Messages API, for driving the real Claude Code.

Claude Code talks to ``ANTHROPIC_BASE_URL``; pointing it here keeps every byte on
127.0.0.1. The stub answers what the real client sends (see docs/claude-code.md):

* ``HEAD /`` -- a reachability probe, once per run;
* ``POST /v1/messages`` (``?beta=true``) with ``"stream": true`` -- answered with the SSE
  event sequence of the real API, following a :class:`Script`;
* ``POST /v1/messages`` without streaming, ``POST /v1/messages/count_tokens`` -- answered
  sensibly (a short text message / a token count) and recorded, because newer clients
  may send them;
* anything else -- recorded as unknown and answered 404 in the API's error shape.

A *conversation* request is one whose ``tools`` list is non-empty: that is the agent
loop. It consumes the script's turns in order. Any other ``/v1/messages`` call (a
side request such as a title/topic summary on a small model) gets a plain text answer
and does not advance the script, so expectations derived from the script stay exact.
Once the script is used up, further conversation requests get a final text answer.

Every request is recorded (:class:`RecordedRequest`) so tests can assert what Claude sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from e2e.stub_server import LoopbackServer, json_object, started_url

log = logging.getLogger(__name__)

DEFAULT_USAGE = (120, 30)  # (input_tokens, output_tokens) per scripted answer
FINAL_TEXT = "Done."


# --- script vocabulary -----------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Answer with one text block and ``stop_reason=end_turn``."""

    text: str
    input_tokens: int = DEFAULT_USAGE[0]
    output_tokens: int = DEFAULT_USAGE[1]


@dataclass(frozen=True)
class ToolUse:
    """Answer with a lead-in text block plus one ``tool_use`` block (``stop_reason=tool_use``).

    The next conversation request carries the ``tool_result``; the script's next turn
    answers it.
    """

    name: str
    input: Mapping[str, Any]
    lead_in: str = "I'll use a tool."
    input_tokens: int = DEFAULT_USAGE[0]
    output_tokens: int = DEFAULT_USAGE[1]


@dataclass(frozen=True)
class ApiError:
    """Answer with an HTTP error in the API's JSON error shape.

    ``retry_after_ms`` is sent as the ``retry-after-ms`` header. Claude Code 2.1.197 does
    not shorten (or lengthen) its own 529/429 backoff for it (~0.6 s, then ~1.2 s); it is
    here to test that claim again after a version bump.
    """

    status: int
    error_type: str
    message: str
    retry_after_ms: int | None = None


@dataclass(frozen=True)
class Hold:
    """Start streaming (``message_start``) and then park the response until released.

    Lets a test stop Claude mid-task: wait for :attr:`MessagesStub.parked`, signal the
    process, then :meth:`MessagesStub.release` (or let the client disconnect).
    """


Turn = Text | ToolUse | ApiError | Hold


@dataclass(frozen=True)
class Script:
    """The answers to the conversation requests of one run, in order."""

    name: str
    prompt: str
    turns: Sequence[Turn]
    allowed_tools: Sequence[str] = ()


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any] | None
    kind: str  # "probe" | "conversation" | "side" | "count_tokens" | "unknown"
    answer: str = ""  # what the stub answered, for failure messages
    received_at: float = field(default_factory=time.monotonic)

    @property
    def model(self) -> str | None:
        return None if self.body is None else self.body.get("model")

    def tool_results(self) -> list[dict[str, Any]]:
        """The ``tool_result`` blocks of the last user message."""
        if self.body is None or not self.body.get("messages"):
            return []
        content = self.body["messages"][-1].get("content")
        if not isinstance(content, list):
            return []
        return [block for block in content if block.get("type") == "tool_result"]


# --- SSE rendering (pure) ----------------------------------------------------------------


def _sse(event: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _message_start(message_id: str, model: str, input_tokens: int) -> bytes:
    return _sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        },
    )


def _text_block(index: int, text: str) -> list[bytes]:
    return [
        _sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": text},
            },
        ),
        _sse("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def _tool_use_block(
    index: int, tool_use_id: str, name: str, tool_input: Mapping[str, Any]
) -> list[bytes]:
    encoded = json.dumps(tool_input)
    # Split the JSON over two deltas, as the real API streams partial JSON.
    half = len(encoded) // 2
    return [
        _sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "tool_use", "id": tool_use_id, "name": name, "input": {}},
            },
        ),
        *(
            _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                },
            )
            for part in (encoded[:half], encoded[half:])
        ),
        _sse("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def _message_end(stop_reason: str, output_tokens: int) -> list[bytes]:
    return [
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        _sse("message_stop", {"type": "message_stop"}),
    ]


def _error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


# --- the server --------------------------------------------------------------------------


@dataclass
class MessagesStub:
    """The stub server. Use as ``async with MessagesStub(script) as stub: stub.base_url``."""

    script: Script | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    parked: asyncio.Event = field(default_factory=asyncio.Event)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _turn_index: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return started_url(self._server, "MessagesStub")

    def use(self, script: Script) -> None:
        """Switch to another script (one stub can serve several runs in turn)."""
        self.script = script
        self._turn_index = 0
        self.parked.clear()
        self._released.clear()

    def release(self) -> None:
        """Let a :class:`Hold` turn finish (it then answers with :data:`FINAL_TEXT`)."""
        self._released.set()

    def by_kind(self, kind: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.kind == kind]

    async def start(self) -> None:
        # handler_cancellation: a parked response must end when Claude hangs up.
        self._server = LoopbackServer(self._dispatch, handler_cancellation=True)
        await self._server.start()

    async def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            await self._server.stop()

    async def __aenter__(self) -> MessagesStub:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- request handling --

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await json_object(request)
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
            kind=self._classify(request, body),
        )
        self.requests.append(recorded)
        if recorded.kind == "probe":
            recorded.answer = "200"
            return web.Response(status=200)
        if recorded.kind == "count_tokens":
            recorded.answer = "count_tokens"
            return web.json_response({"input_tokens": DEFAULT_USAGE[0]})
        if recorded.kind == "unknown":
            log.warning("messages stub: unknown request %s %s", request.method, request.path)
            recorded.answer = "404"
            return web.json_response(
                _error_body("not_found_error", f"stub has no {request.path}"), status=404
            )
        assert body is not None
        turn: Turn = Text(FINAL_TEXT) if recorded.kind == "side" else self._next_turn()
        recorded.answer = type(turn).__name__
        return await self._answer(request, body, turn)

    @staticmethod
    def _classify(request: web.Request, body: dict[str, Any] | None) -> str:
        if request.method == "HEAD":
            return "probe"
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            return "count_tokens"
        if request.method == "POST" and request.path == "/v1/messages" and body is not None:
            return "conversation" if body.get("tools") else "side"
        return "unknown"

    def _next_turn(self) -> Turn:
        turns = self.script.turns if self.script is not None else ()
        if self._turn_index < len(turns):
            turn = turns[self._turn_index]
            self._turn_index += 1
            return turn
        return Text(FINAL_TEXT)

    async def _answer(
        self, request: web.Request, body: dict[str, Any], turn: Turn
    ) -> web.StreamResponse:
        number = next(self._ids)
        message_id = f"msg_stub_{number:04d}"
        request_id = f"req_stub_{number:04d}"
        model = str(body.get("model", "claude-stub"))
        if isinstance(turn, ApiError):
            headers = {"request-id": request_id}
            if turn.retry_after_ms is not None:
                headers["retry-after-ms"] = str(turn.retry_after_ms)
            return web.json_response(
                _error_body(turn.error_type, turn.message), status=turn.status, headers=headers
            )
        if not body.get("stream"):
            return web.json_response(
                self._whole_message(message_id, model, turn), headers={"request-id": request_id}
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "request-id": request_id,
            }
        )
        await response.prepare(request)
        if isinstance(turn, Hold):
            await response.write(_message_start(message_id, model, DEFAULT_USAGE[0]))
            self.parked.set()
            await self._released.wait()
            turn = Text(FINAL_TEXT)
        else:
            await response.write(_message_start(message_id, model, turn.input_tokens))
        for chunk in self._content(number, turn):
            await response.write(chunk)
        await response.write_eof()
        return response

    @staticmethod
    def _content(number: int, turn: Text | ToolUse) -> list[bytes]:
        if isinstance(turn, Text):
            return [*_text_block(0, turn.text), *_message_end("end_turn", turn.output_tokens)]
        return [
            *_text_block(0, turn.lead_in),
            *_tool_use_block(1, f"toolu_stub_{number:04d}", turn.name, turn.input),
            *_message_end("tool_use", turn.output_tokens),
        ]

    @staticmethod
    def _whole_message(message_id: str, model: str, turn: Turn) -> dict[str, Any]:
        text = turn.text if isinstance(turn, Text) else FINAL_TEXT
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": DEFAULT_USAGE[0],
                "output_tokens": DEFAULT_USAGE[1],
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }


@contextlib.asynccontextmanager
async def running_stub(script: Script | None = None) -> AsyncIterator[MessagesStub]:
    stub = MessagesStub(script)
    await stub.start()
    try:
        yield stub
    finally:
        await stub.stop()
