"""Everything beacon prints for humans: status lines, warnings, --json, annotations.

Status lines go to stderr so stdout stays the child's (and, with ``--json``,
ends with exactly one result line).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from beacon.ci import github


@dataclass
class Reporter:
    quiet: bool = False
    json_output: bool = False
    actions: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    @classmethod
    def for_environ(
        cls, environ: Mapping[str, str], *, quiet: bool = False, json_output: bool = False
    ) -> Reporter:
        return cls(quiet=quiet, json_output=json_output, actions=github.on_actions(environ))

    def status(self, message: str) -> None:
        if not self.quiet:
            self._line(self.err, f"beacon: {message}")

    def block(self, text: str) -> None:
        """A few lines for humans (the run report's short form), on stderr."""
        if not self.quiet:
            self._line(self.err, text)

    def warning(self, message: str) -> None:
        self._line(self.err, f"beacon: warning: {message}")
        if self.actions:
            self._line(self.out, github.warning(f"beacon: {message}"))

    def error(self, message: str) -> None:
        self._line(self.err, f"beacon: error: {message}")
        if self.actions:
            self._line(self.out, github.error(f"beacon: {message}"))

    def finding(self, message: str, *, failing: bool) -> None:
        """A rule finding: always on stderr; an annotation on Actions."""
        self._line(self.err, f"beacon: {message}")
        if self.actions:
            annotate = github.error if failing else github.warning
            self._line(self.out, annotate(f"beacon: {message}"))

    def command(self, line: str) -> None:
        """A workflow command (``::add-mask::``): stdout, where the runner reads it."""
        self._line(self.out, line)

    def result(self, result: Mapping[str, Any]) -> None:
        if self.json_output:
            self._line(self.out, json.dumps(result, separators=(",", ":"), sort_keys=False))

    @staticmethod
    def _line(stream: TextIO, text: str) -> None:
        try:
            stream.write(text + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError):
            # A closed pipe must not turn a finished run into a crash.
            pass


def describe_validation(validation: Mapping[str, Any]) -> list[str]:
    """One line per stage that is not ok, for the human summary."""
    return [
        f"{stage.get('name')}: {stage.get('status')}: {stage.get('message')}"
        for stage in validation.get("stages", [])
        if stage.get("status") != "ok"
    ]
