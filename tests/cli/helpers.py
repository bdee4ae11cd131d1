"""Run the installed `beacon` as a user does, and wait on conditions (never sleep)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CHILD = [sys.executable, str(HERE / "child.py")]
BEACON = str(Path(sys.executable).with_name("beacon"))
if not Path(BEACON).exists():  # pragma: no cover - a venv always has it
    BEACON = shutil.which("beacon") or "beacon"

#: Environment variables a CI job might have that would change beacon's behaviour.
_SCRUBBED_PREFIXES = ("OTEL_", "BEACON_", "GITHUB_", "RUNNER_", "CLAUDE_CODE_")


OPTIONAL_SHELLS = ("zsh", "fish")


def require_shell(name: str) -> None:
    """zsh and fish are not on every developer's machine: there their tests say so.

    In CI (``CI`` set) ``nox -s tests`` installs them, so a missing one is a
    broken set-up and fails rather than hiding the test.
    """
    import pytest

    if name in OPTIONAL_SHELLS and shutil.which(name) is None:
        message = f"{name} is not installed (apt-get install {name})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(extra)
    return env


def beacon(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [BEACON, *args],
        env=dict(env) if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"beacon {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def wait_for(condition: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)  # polling a condition, not synchronising on time


def last_json_line(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no stdout"
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def runtime_lines(log_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def spool_lines(spool_path: Path) -> Iterator[dict[str, Any]]:
    for line in spool_path.read_text().splitlines():
        if line.strip():
            yield json.loads(line)


def _values(attributes: list[dict[str, Any]] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in attributes or []:
        value = kv.get("value", {})
        out[kv["key"]] = next(iter(value.values()), None) if value else None
    return out


def spool_log_records(spool_path: Path) -> list[dict[str, Any]]:
    """Every log record in a spool, flattened: body, attributes, resource."""
    rows: list[dict[str, Any]] = []
    for line in spool_lines(spool_path):
        for resource_logs in line.get("resourceLogs", []):
            resource = _values(resource_logs.get("resource", {}).get("attributes"))
            for scope_logs in resource_logs.get("scopeLogs", []):
                for record in scope_logs.get("logRecords", []):
                    rows.append(
                        {
                            "body": record.get("body", {}).get("stringValue"),
                            "attributes": _values(record.get("attributes")),
                            "resource": resource,
                            "scope": scope_logs.get("scope", {}).get("name"),
                        }
                    )
    return rows


def text_mentions(path: Path, needle: str) -> bool:
    return path.exists() and needle in path.read_text()


def start_waiting_exec(
    base_dir: Path,
    scratch: Path,
    options: tuple[str, ...],
    *steps: str,
    stdout: int = subprocess.PIPE,
    stderr: int = subprocess.PIPE,
) -> tuple[subprocess.Popen[str], Path]:
    """`ci exec` around the test child, returned once the child runs; then it runs ``steps``.

    ``{got}`` in a step names the file the child writes the signal it received to.
    """
    ready, got = scratch / "ready", scratch / "got-signal"
    process = subprocess.Popen(
        [
            BEACON,
            *("ci", "exec", "--base-dir", str(base_dir), *options, "--"),
            *CHILD,
            f"ready:{ready}",
            *(step.format(got=got) for step in steps),
        ],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        text=True,
    )
    try:
        wait_for(ready.exists, what="the child to start")
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return process, got


def signal_and_wait(
    process: subprocess.Popen[str], signum: int, timeout: float = 15
) -> tuple[str, float]:
    """Send ``signum`` and wait for the exit: (stderr, seconds from the signal to the exit).

    The process is killed if it outlives ``timeout`` (the test then fails on the timeout).
    """
    try:
        sent = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=timeout)
        return stderr or "", time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
