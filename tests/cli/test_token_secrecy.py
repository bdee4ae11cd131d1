"""The collector token never appears in argv (ps), logs, errors or artifacts.

It lives in exactly two places by design: session.json and session.env (0600,
in the base dir) and the environment of the processes that need it; `session
env` prints it on purpose (it is how later steps get it), and on GitHub
Actions it is masked before anything else is printed.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path
from subprocess import run

from beacon.run.state import process_alive

from .helpers import CHILD, beacon, clean_env, last_json_line

HOLDERS = {"session.json", "session.env"}


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _every_process_cmdline() -> str:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append(_cmdline(int(entry.name)))
            except OSError:
                continue  # exited meanwhile
    return "\n".join(out)


def test_session_token_stays_out_of_argv_logs_errors_and_artifacts(tmp_path: Path) -> None:
    base = tmp_path / "beacon"
    env = clean_env(BEACON_CI_BASE_DIR=str(base))
    started = beacon("ci", "session", "start", "--harness", "otel", "--json", env=env, check=True)
    info = last_json_line(started.stdout)
    pid = int(info["pid"])
    try:
        state = json.loads((base / "session.json").read_text())
        token = state["token"]
        assert len(token) >= 32
        outputs = [started.stdout, started.stderr]
        # argv of the daemon and of every process on the machine (what ps shows).
        assert token not in _cmdline(pid)
        assert token not in _every_process_cmdline()
        exports = json.loads(beacon("ci", "session", "env", "--format", "json", env=env).stdout)
        job = {**env, **exports}
        ok = beacon("ci", "session", "status", "--json", env=env)
        outputs += [ok.stdout, ok.stderr]
        # A step exports with the token; another with a wrong one (refused).
        run([*CHILD, "log:secrecy-probe"], env=job, check=True, timeout=60)
        wrong = dict(job, OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20not-the-token")
        refused = run([*CHILD, "log:refused"], env=wrong, timeout=60, capture_output=True)
        assert refused.returncode != 0
        outputs += [refused.stdout.decode(), refused.stderr.decode()]
        stop = beacon("ci", "session", "stop", "--json", env=env)
        assert stop.returncode == 0, stop.stderr
        outputs += [stop.stdout, stop.stderr]
    finally:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)
    for text in outputs:
        assert token not in text
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        content = path.read_bytes()
        if path.name in HOLDERS:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            continue
        assert token.encode() not in content, path
    assert "secrecy-probe" in (base / "runtime.jsonl").read_text()
