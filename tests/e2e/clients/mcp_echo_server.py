"""A minimal MCP server over stdio with one tool, ``echo``, for Claude Code's MCP path.

Claude Code starts it from ``--mcp-config``; it then names the tool
``mcp__<server>__echo``. Speaks newline-delimited JSON-RPC 2.0 as the MCP stdio transport
requires: ``initialize``, ``tools/list``, ``tools/call``, ``ping``; notifications are
ignored; unknown methods get JSON-RPC error -32601. Standard library only, so it runs on
the interpreter that runs the tests.
"""

from __future__ import annotations

import json
import sys
from typing import Any

SERVER_NAME = "beacon-e2e"
TOOL = {
    "name": "echo",
    "description": "Echo the given text back.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}


def _result(message: dict[str, Any]) -> dict[str, Any] | None:
    method = message.get("method")
    if method == "initialize":
        requested = message.get("params", {}).get("protocolVersion", "2025-06-18")
        return {
            "protocolVersion": requested,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": SERVER_NAME, "version": "1.0.0"},
        }
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        text = str(message.get("params", {}).get("arguments", {}).get("text", ""))
        return {"content": [{"type": "text", "text": f"echo: {text}"}], "isError": False}
    if method == "ping":
        return {}
    return None


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if "id" not in message:
            continue  # a notification (e.g. notifications/initialized): no answer
        result = _result(message)
        if result is None:
            reply: dict[str, Any] = {
                "jsonrpc": "2.0",
                "id": message["id"],
                "error": {"code": -32601, "message": f"method not found: {message.get('method')}"},
            }
        else:
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
