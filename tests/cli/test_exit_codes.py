"""Exit codes are pinned: changing one breaks users' workflows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from beacon.cli.argv import normalize_argv, require_telemetry
from beacon.errors import ExitCode, UsageError
from beacon.run.finish import decide_exit_code


def test_exit_code_values_are_pinned() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "USAGE": 2,
        "VALIDATION_FAILED": 3,
        "UPLOAD_FAILED": 4,
        "BEACON_FAILED": 5,
        "NO_SESSION": 6,
        "POLICY_FAILED": 7,
        "TIMEOUT": 124,
    }


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, 0),
        ({"validation_status": "warn"}, 0),
        ({"validation_status": "fail"}, 3),
        ({"validation_status": "fail", "require_telemetry": False}, 0),
        ({"validation_status": "fail", "child_exit_code": 7}, 7),
        ({"child_exit_code": 143}, 143),
        ({"timed_out": True, "child_exit_code": 143}, 124),
        ({"upload_failed": True}, 4),
        ({"validation_status": "fail", "upload_failed": True}, 3),
        ({"validation_status": "fail", "require_telemetry": False, "upload_failed": True}, 4),
        ({"child_exit_code": 2, "upload_failed": True}, 2),
        ({"timed_out": True, "upload_failed": True}, 124),
        ({"cancelled_by": 15, "upload_failed": True}, 143),
        ({"cancelled_by": 2}, 130),
        ({"cancelled_by": 15, "child_exit_code": 1}, 1),
        ({"policy_failed": True}, 7),
        ({"policy_failed": True, "validation_status": "fail"}, 7),
        ({"policy_failed": True, "upload_failed": True}, 7),
        ({"policy_failed": True, "child_exit_code": 2}, 2),
        ({"policy_failed": True, "timed_out": True}, 124),
        ({"policy_failed": True, "cancelled_by": 15}, 143),
    ],
)
def test_precedence(kwargs: dict[str, object], expected: int) -> None:
    args: dict[str, object] = {
        "child_exit_code": 0,
        "timed_out": False,
        "validation_status": "ok",
        "require_telemetry": True,
    }
    args.update(kwargs)
    assert decide_exit_code(**args) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "disabled", "expected"),
    [
        (None, False, True),
        ("true", False, True),
        ("1", False, True),
        ("false", False, False),
        ("0", False, False),
        ("FALSE", False, False),
        (None, True, False),
        ("false", True, False),
    ],
)
def test_require_telemetry_values(value: str | None, disabled: bool, expected: bool) -> None:
    assert require_telemetry(value, disabled) is expected


def test_require_telemetry_rejects_nonsense_and_contradictions() -> None:
    with pytest.raises(UsageError, match="invalid value 'maybe'"):
        require_telemetry("maybe", False)
    with pytest.raises(UsageError, match="contradict"):
        require_telemetry("true", True)


def test_bare_require_telemetry_means_true_and_stops_at_double_dash() -> None:
    assert normalize_argv(["ci", "exec", "--require-telemetry", "--", "x"]) == [
        "ci",
        "exec",
        "--require-telemetry=true",
        "--",
        "x",
    ]
    assert normalize_argv(["--require-telemetry"]) == ["--require-telemetry=true"]
    assert normalize_argv(["--require-telemetry", "false", "--", "--require-telemetry"]) == [
        "--require-telemetry",
        "false",
        "--",
        "--require-telemetry",
    ]


def test_status_of_a_session_whose_daemon_is_gone_is_no_session(tmp_path: Path) -> None:
    from .helpers import beacon

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    state = {
        "session_id": "s1",
        "pid": int(gone.stdout),
        "token": "t",
        "protocol": "http/protobuf",
        "receivers": ["http"],
        "harnesses": ["otel"],
        "endpoints": {"http": "http://127.0.0.1:9"},
        "status_url": "http://127.0.0.1:9/beacon/status",
        "started_at": "",
        "started_unix": 0.0,
        "base_dir": str(tmp_path),
        "log_path": str(tmp_path / "r.jsonl"),
        "spool_path": str(tmp_path / "spool" / "otlp.jsonl"),
        "exports": {},
    }
    (tmp_path / "session.json").write_text(json.dumps(state))
    result = beacon("ci", "session", "status", "--base-dir", str(tmp_path))
    assert result.returncode == 6 == ExitCode.NO_SESSION
    assert "daemon died" in result.stderr
