"""Run the real Claude Code CLI against the Messages stub, hermetically.

Claude gets a scratch ``HOME`` and working directory and an environment built from
scratch (never the developer's: no real API key, no stray ``OTEL_*``, no proxy), so every
byte it sends goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROTOCOLS = ("grpc", "http/protobuf", "http/json")
FAKE_API_KEY = "sk-ant-api03-beacon-e2e-fake-key"
RUN_TIMEOUT_S = 60.0


def hermetic_env(home: Path, stub_url: str) -> dict[str, str]:
    """Claude's base environment: offline, pointed at the stub, no telemetry yet."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": stub_url,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def telemetry_env(protocol: str, endpoint: str, token: str | None) -> dict[str, str]:
    """Claude's telemetry switches, exporting everything quickly to ``endpoint``."""
    env = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_TRACES_EXPORTER": "otlp",
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_LOG_USER_PROMPTS": "1",
        "OTEL_LOG_TOOL_DETAILS": "1",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
        "OTEL_LOGS_EXPORT_INTERVAL": "1000",
        "OTEL_TRACES_EXPORT_INTERVAL": "1000",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "CLAUDE_CODE_OTEL_SHUTDOWN_TIMEOUT_MS": "10000",
    }
    if token is not None:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = f"authorization=Bearer%20{token}"
    return env


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        return (
            f"exit {self.returncode} after {self.seconds:.2f}s\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


async def run_process(
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    limit_s: float = RUN_TIMEOUT_S,
) -> ProcessResult:
    """Run to completion without blocking the loop; kill it (and say so) on timeout."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), limit_s)
    except TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
        raise AssertionError(
            f"{argv[:3]} did not finish within {limit_s}s:\n"
            f"{stdout.decode(errors='replace')[-2000:]}\n{stderr.decode(errors='replace')[-2000:]}"
        ) from None
    assert process.returncode is not None
    return ProcessResult(
        returncode=process.returncode,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
        seconds=time.monotonic() - started,
    )
