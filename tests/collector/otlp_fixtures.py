"""Load the recorded OTLP payloads in tests/fixtures as protobuf requests."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from beacon.otlp.codec import request_type
from tests.jsondecode import parse_json_request

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CLAUDE = FIXTURES / "claude-code-2.1.197"
EXAMPLES = FIXTURES / "otlp-examples"

_SIGNAL_OF_PREFIX = {"logs": "logs", "events": "logs", "metrics": "metrics", "traces": "traces"}
_SIGNAL_OF_PREFIX["trace"] = "traces"
ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


def all_fixture_paths() -> list[Path]:
    return sorted([*CLAUDE.glob("*.json"), *EXAMPLES.glob("*.json")])


def signal_of(path: Path) -> str:
    return _SIGNAL_OF_PREFIX[path.name.split(".")[0]]


def load_request(path: Path) -> Any:
    """The export request a fixture holds.

    ``*.http-protobuf*.json``/``*.grpc.json`` are json_format renderings (base64 ids);
    ``*.http-json.json`` and the otlp-examples are raw OTLP/JSON (hex ids).
    """
    signal = signal_of(path)
    raw = path.read_bytes()
    if path.parent == CLAUDE and "http-json" not in path.name:
        return json_format.Parse(raw, request_type(signal)())
    return parse_json_request(signal, raw)


def oracle_dict(req: Any) -> dict[str, Any]:
    """json_format's rendering with ids turned from base64 into lower-case hex."""
    return _ids_to_hex(json_format.MessageToDict(req, use_integers_for_enums=True))


def _ids_to_hex(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            k: (base64.b64decode(v).hex() if k in ID_KEYS else _ids_to_hex(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_ids_to_hex(x) for x in obj]
    return obj
