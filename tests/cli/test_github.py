"""$GITHUB_ENV blocks read back the way the runner parses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from beacon.ci import github


def test_blocks_round_trip_through_the_runner_parser(tmp_path: Path) -> None:
    env_file = tmp_path / "github_env"
    env_file.write_text("EXISTING=1\n")
    values = {
        "PLAIN": "value",
        "TRICKY": "a=b<<c\nsecond line 'quoted' \"double\" $HOME `x`",
        "EMPTY": "",
    }
    github.append_env_file(env_file, values)
    github.append_env_file(env_file, {"PLAIN": "later wins"})
    parsed = github.parse_env_file(env_file.read_text())
    assert parsed == {**values, "EXISTING": "1", "PLAIN": "later wins"}


def test_delimiter_is_random_and_not_in_the_value() -> None:
    first = github.env_file_block("A", "x").splitlines()[0]
    second = github.env_file_block("A", "x").splitlines()[0]
    assert first != second
    assert first.startswith("A<<ghadelimiter_")


def test_invalid_names_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid variable name"):
        github.env_file_block("A=B", "x")


def test_commands_escape_newlines() -> None:
    assert github.add_mask("tok") == "::add-mask::tok"
    assert github.warning("a\nb%") == "::warning::a%0Ab%25"


def test_unwritable_env_file_is_a_clear_error(tmp_path: Path) -> None:
    from beacon.errors import BeaconError

    with pytest.raises(BeaconError, match="cannot append to GITHUB_ENV"):
        github.append_env_file(tmp_path / "missing-dir" / "env", {"A": "b"})
