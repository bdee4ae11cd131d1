"""The installer's failure paths: loud errors, and nothing half-installed left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.claude_install import (
    CLAUDE_CODE_FLOOR,
    CLAUDE_CODE_VERSION,
    VERSIONS_VARIABLE,
    NpmInstallError,
    _atomic_install,
    chosen_versions,
    claude_install_dir,
    ensure_claude_code,
    resolve_version,
)


def test_missing_npm_fails_loudly_and_leaves_no_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(NpmInstallError, match="npm is not on PATH"):
        ensure_claude_code(tmp_path)
    assert not claude_install_dir(tmp_path).exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_interrupted_install_is_not_taken_for_a_good_one(tmp_path: Path) -> None:
    target = tmp_path / "thing"

    def interrupted(staging: Path) -> None:
        (staging / "partial").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _atomic_install(target, interrupted, lambda d: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".thing.lock"]


def test_an_install_that_fails_its_check_is_discarded(tmp_path: Path) -> None:
    target = tmp_path / "thing"
    with pytest.raises(NpmInstallError, match="unusable: no binary"):
        _atomic_install(target, lambda staging: None, lambda d: "no binary")
    assert not target.exists()


def test_a_broken_existing_install_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "thing"
    target.mkdir()
    (target / "stale").write_text("from an older, broken install")

    def good(staging: Path) -> None:
        (staging / "ok").write_text("fresh")

    result = _atomic_install(target, good, lambda d: None if (d / "ok").exists() else "broken")
    assert result == target
    assert sorted(p.name for p in target.iterdir()) == ["ok"]


def test_install_dir_names_the_pinned_version(tmp_path: Path) -> None:
    assert claude_install_dir(tmp_path).name == f"claude-code-{CLAUDE_CODE_VERSION}"


def test_versions_are_the_pin_and_the_floor_unless_chosen() -> None:
    assert chosen_versions({}) == (CLAUDE_CODE_VERSION, CLAUDE_CODE_FLOOR)
    assert chosen_versions({VERSIONS_VARIABLE: " latest, 2.1.197 "}) == ("latest", "2.1.197")
    assert claude_install_dir(Path("/c"), "2.1.197") == Path("/c/claude-code-2.1.197")


def test_an_exact_version_is_not_looked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no npm: a lookup would fail
    assert resolve_version("2.1.332") == "2.1.332"
    with pytest.raises(NpmInstallError, match="npm is not on PATH"):
        resolve_version("latest")
