"""`ci exec` imports what its finish needs while the child runs, not after it exits.

Each test runs the real CLI in a fresh interpreter, with ``capture`` (collector up,
child, drain) wrapped to note which modules were loaded when it returned; the
interpreter reports, as it exits, which of beacon's modules were imported after.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import clean_env

_DRIVER = """
import json, os, sys
import beacon.run.exec as run_exec

loaded = {}
real_exit = os._exit

def report_and_exit(code):
    after = sorted(m for m in set(sys.modules) - loaded["capture"] if m.startswith("beacon"))
    seen = {"after_child": after, "at_child_exit": sorted(loaded["capture"])}
    print("WARM-UP " + json.dumps(seen))
    sys.stdout.flush()
    real_exit(code)

os._exit = report_and_exit
real_capture = run_exec.capture

async def capture(*args, **kwargs):
    result = await real_capture(*args, **kwargs)
    loaded["capture"] = set(sys.modules)
    return result

run_exec.capture = capture
sys.argv = ["beacon", *sys.argv[1:]]
from beacon.cli import main
main()
"""


def _run(tmp_path: Path, harness: str) -> dict[str, Any]:
    args = [
        *("ci", "exec", "--harness", harness, "--require-telemetry=false"),
        *("--base-dir", str(tmp_path / "beacon"), "--log-path", str(tmp_path / "runtime.jsonl")),
        *("--", sys.executable, "-c", "pass"),
    ]
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(text for text in done.stdout.splitlines() if text.startswith("WARM-UP "))
    return dict(json.loads(line.removeprefix("WARM-UP ")))


@pytest.mark.parametrize("harness", ["otel", "claude"])
def test_nothing_of_beacon_is_imported_after_the_child_exits(tmp_path: Path, harness: str) -> None:
    seen = _run(tmp_path, harness)
    assert seen["after_child"] == []
    # The run did finish: its pipeline and report were loaded (by the warm-up).
    assert "beacon.pipeline.runner" in seen["at_child_exit"]
    assert "beacon.report.build" in seen["at_child_exit"]


def test_an_agent_run_loads_the_rules_engine_while_the_child_runs(tmp_path: Path) -> None:
    # With an agent harness its events are expected: the rules stage will need the engine.
    assert "beacon.rules.engine" in _run(tmp_path, "claude")["at_child_exit"]
    # Without one, a run with no agent event never loads it (stage.py's own shortcut).
    assert "beacon.rules.engine" not in _run(tmp_path / "otel", "otel")["at_child_exit"]
