"""Settings resolution and the export formats (pure parts, no processes beyond shells)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from beacon.cli.common import parse_duration
from beacon.config import resolve_paths, resolve_receivers
from beacon.errors import UsageError
from beacon.run.session import format_exports

from .helpers import CHILD, require_shell

ADVERSARIAL = {
    "PLAIN": "value",
    "QUOTES": "it's \"double\" and 'single'",
    "SHELL": "$HOME `uname` $(id) \\ ; & | > <",
    "NEWLINE": "first\nsecond",
    "EMPTY": "",
    "UNICODE": "日本語 ✓",
}


def test_base_dir_precedence(tmp_path: Path) -> None:
    env = {"BEACON_CI_BASE_DIR": str(tmp_path / "env"), "RUNNER_TEMP": str(tmp_path / "rt")}
    assert resolve_paths(tmp_path / "flag", None, env).base_dir == tmp_path / "flag"
    assert resolve_paths(None, None, env).base_dir == tmp_path / "env"
    # session stop restores $GITHUB_ENV with empty values: empty means unset.
    env["BEACON_CI_BASE_DIR"] = ""
    assert resolve_paths(None, None, env).base_dir == tmp_path / "rt" / "beacon"


def test_log_path_precedence(tmp_path: Path) -> None:
    env = {"BEACON_CI_LOG_PATH": str(tmp_path / "env.jsonl")}
    assert resolve_paths(tmp_path, None, {}).log_path == tmp_path / "runtime.jsonl"
    assert resolve_paths(tmp_path, None, env).log_path == tmp_path / "env.jsonl"
    assert resolve_paths(tmp_path, tmp_path / "f.jsonl", env).log_path == tmp_path / "f.jsonl"


@pytest.mark.parametrize(
    ("protocol", "receivers", "expected"),
    [
        ("http/protobuf", None, {"http"}),
        ("http/json", "auto", {"http"}),
        ("grpc", None, {"grpc"}),
        ("grpc", "all", {"http", "grpc"}),
        ("http/protobuf", "http,grpc", {"http", "grpc"}),
    ],
)
def test_receivers(protocol: str, receivers: str | None, expected: set[str]) -> None:
    assert resolve_receivers(protocol, receivers) == frozenset(expected)


def test_receivers_must_serve_the_protocol() -> None:
    with pytest.raises(UsageError, match="needs the grpc receiver"):
        resolve_receivers("grpc", "http")
    with pytest.raises(UsageError, match="unknown receiver"):
        resolve_receivers("grpc", "carrier")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("1.5m", 90), ("6h", 21600), ("200ms", 0.2), ("5s", 5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, option="--x") == pytest.approx(seconds)


def test_bad_duration_names_the_option() -> None:
    with pytest.raises(UsageError, match="invalid duration 'soon' for --timeout"):
        parse_duration("soon", option="--timeout")


def dump_env_after(shell: list[str], script: str) -> dict[str, str]:
    probe = f'"{CHILD[0]}" -c "import json, os; print(json.dumps(dict(os.environ)))"'
    out = subprocess.run(
        [*shell, script + "\n" + probe],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    result: dict[str, str] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh"])
def test_sh_format_survives_eval(shell: str) -> None:
    require_shell(shell)
    text = format_exports(ADVERSARIAL, "sh")
    seen = dump_env_after([shell, "-c"], f"eval {sh_single(text)}")
    assert {k: seen.get(k) for k in ADVERSARIAL} == ADVERSARIAL


def test_fish_format() -> None:
    require_shell("fish")
    seen = dump_env_after(["fish", "-c"], format_exports(ADVERSARIAL, "fish"))
    assert {k: seen.get(k) for k in ADVERSARIAL} == ADVERSARIAL


def test_json_format_is_one_flat_object() -> None:
    assert json.loads(format_exports(ADVERSARIAL, "json")) == ADVERSARIAL


def test_unknown_format() -> None:
    with pytest.raises(UsageError, match="unknown format"):
        format_exports({}, "csh")


def sh_single(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
