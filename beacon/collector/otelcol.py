"""Write ``otelcol.yaml``: the OpenTelemetry Collector config equivalent to beacon's collector.

Same endpoints, same auth, same spool (the ``file`` exporter writes the
identical OTLP/JSON lines), so a real ``otelcol-contrib`` can stand in. The
token is referenced as ``${env:BEACON_OTLP_TOKEN}``, never written.

A tiny YAML emitter (block mappings, flow lists of scalars, JSON-quoted
strings, which are valid YAML) avoids a PyYAML dependency.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

TOKEN_ENV_VAR: Final = "BEACON_OTLP_TOKEN"  # noqa: S105 - a variable name, not a secret
_AUTH_EXTENSION: Final = "bearertokenauth"
_MIB: Final = 1024 * 1024


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"cannot emit {type(value).__name__} as a YAML scalar")


def to_yaml(data: Mapping[str, Any], indent: int = 0) -> str:
    """Block-style YAML for nested mappings whose leaves are scalars or lists of scalars."""
    lines: list[str] = []
    pad = "  " * indent
    for key, value in data.items():
        if isinstance(value, Mapping):
            lines.append(f"{pad}{key}:")
            lines.append(to_yaml(value, indent + 1))
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [{', '.join(_scalar(v) for v in value)}]")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return "\n".join(line for line in lines if line)


def otelcol_config(
    *,
    spool_path: Path,
    http_endpoint: str | None,
    grpc_endpoint: str | None,
    with_auth: bool,
    max_body_bytes: int,
    grpc_max_receive_bytes: int,
) -> dict[str, Any]:
    """The collector config as a dict; endpoints are ``host:port`` (IPv6 in brackets)."""
    auth = {"auth": {"authenticator": _AUTH_EXTENSION}} if with_auth else {}
    protocols: dict[str, Any] = {}
    if grpc_endpoint is not None:
        protocols["grpc"] = {
            "endpoint": grpc_endpoint,
            "max_recv_msg_size_mib": max(1, grpc_max_receive_bytes // _MIB),
            **auth,
        }
    if http_endpoint is not None:
        protocols["http"] = {
            "endpoint": http_endpoint,
            "max_request_body_size": max_body_bytes,
            **auth,
        }
    config: dict[str, Any] = {}
    if with_auth:
        config["extensions"] = {_AUTH_EXTENSION: {"token": f"${{env:{TOKEN_ENV_VAR}}}"}}
    config["receivers"] = {"otlp": {"protocols": protocols}}
    config["exporters"] = {"file": {"path": str(spool_path), "format": "json"}}
    pipeline = {"receivers": ["otlp"], "exporters": ["file"]}
    service: dict[str, Any] = {}
    if with_auth:
        service["extensions"] = [_AUTH_EXTENSION]
    service["pipelines"] = {"logs": pipeline, "metrics": pipeline, "traces": pipeline}
    config["service"] = service
    return config


def write_otelcol_yaml(path: Path, config: Mapping[str, Any]) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    header = (
        "# Written by beacon: an OpenTelemetry Collector (contrib) configuration that\n"
        "# receives and stores exactly what beacon's built-in collector does.\n"
        f"# The bearer token is read from ${TOKEN_ENV_VAR}.\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(header + to_yaml(config) + "\n", encoding="utf-8")
    tmp.replace(path)
