"""Validation on the second core: a child process reads runtime.jsonl while it is written.

Parsing and schema-checking every line is about a third of the pipeline's CPU.
For a large spool, ``run_pipeline`` starts ``python -m beacon.pipeline.follow``
as soon as the log is open; the child reads the real file from its first byte
(older runs' lines and anything appended concurrently included), line by line
as they land, and runs the same ``validate_log`` on them. So the verdict covers
every line on disk exactly as the sequential check would; it only starts
earlier. Only complete lines are read until the parent says it has finished.

Protocol: argv[1] is the request (JSON: log path, session id, harnesses, min
events, required actions). When every line is written and flushed, the parent
sends one JSON line on stdin: the spool health. The child answers with one JSON
line on stdout: ``ValidationResult.to_dict()``. If the child fails in any way,
the parent validates in-process instead (``Follower.finish`` returns None).
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from beacon.pipeline.validate import SpoolHealth, ValidationResult, validate_log

# How long the child waits for the parent's message before looking at the file again.
POLL_SECONDS = 0.05
_READ_BYTES = 1 << 20
# The child may still be catching up when the parent finishes; beyond this it is abandoned.
FINISH_TIMEOUT_SECONDS = 600.0


def follow_lines(path: Path, finished: Callable[[float], bool]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of ``path`` while it grows, like ``jsonl.iter_lines``.

    ``finished(timeout)`` waits up to ``timeout`` seconds and tells whether the
    writer is done; after it says so, the rest of the file is read and a last
    line without its newline is yielded too.
    """
    number = 0
    pending = b""
    done = False
    with path.open("rb") as file:
        while True:
            chunk = file.read(_READ_BYTES)
            if chunk:
                *complete, pending = (pending + chunk).split(b"\n")
                for line in complete:
                    number += 1
                    stripped = line.rstrip(b"\r")
                    if stripped.strip():
                        yield number, stripped
                continue
            if done:
                break
            done = finished(POLL_SECONDS)
    stripped = pending.rstrip(b"\r")
    if stripped.strip():
        yield number + 1, stripped


class _ParentMessage:
    """Reads the parent's one-line message from a raw file descriptor (never blocks long)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""
        self.health: SpoolHealth | None = None

    def wait(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.fd], [], [], timeout)
        if not readable:
            return False
        chunk = os.read(self.fd, 65536)
        if not chunk:
            raise SystemExit(1)  # the parent went away: nobody wants the verdict
        self.data += chunk
        if b"\n" not in self.data:
            return False
        self.health = SpoolHealth(**orjson.loads(self.data.split(b"\n", 1)[0]))
        return True


def child_main(argv: list[str]) -> int:
    request = orjson.loads(argv[0])
    message = _ParentMessage(sys.stdin.fileno())
    path = Path(request["log_path"])
    result = validate_log(
        path,
        session_id=request["session_id"],
        harnesses=tuple(request["harnesses"]),
        min_events=int(request["min_events"]),
        require_actions=tuple(request["require_actions"]),
        spool_health=lambda: message.health,
        lines=follow_lines(path, message.wait),
    )
    sys.stdout.buffer.write(orjson.dumps(result.to_dict()) + b"\n")
    sys.stdout.flush()
    return 0


class Follower:
    """The parent's handle on the validating child."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @classmethod
    def start(
        cls,
        log_path: Path,
        *,
        session_id: str,
        harnesses: tuple[str, ...],
        min_events: int,
        require_actions: tuple[str, ...],
    ) -> Follower | None:
        """Start the child (None if it cannot be started: validation then runs in-process)."""
        request = {
            "log_path": str(log_path),
            "session_id": session_id,
            "harnesses": list(harnesses),
            "min_events": min_events,
            "require_actions": list(require_actions),
        }
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-P",
                    "-m",
                    "beacon.pipeline.follow",
                    orjson.dumps(request).decode(),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_child_environ(),
            )
        except OSError:
            return None
        return cls(process)

    def finish(
        self, spool: SpoolHealth, timeout: float = FINISH_TIMEOUT_SECONDS
    ) -> ValidationResult | None:
        """Tell the child writing is over; its verdict, or None if it failed."""
        try:
            out, _ = self.process.communicate(orjson.dumps(asdict(spool)) + b"\n", timeout=timeout)
        except (subprocess.TimeoutExpired, OSError):
            self.abandon()
            return None
        if self.process.returncode != 0:
            return None
        try:
            return ValidationResult.from_dict(orjson.loads(out))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def abandon(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def _child_environ() -> dict[str, str]:
    # The child must import this same beacon, wherever the parent found it; ``-P`` keeps
    # a ``beacon`` folder in the job's working directory from shadowing it.
    environ = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, environ.get("PYTHONPATH", "")) if p)
    return environ


def main() -> Any:
    return child_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
