"""Fixtures for the end-to-end tests: the real Claude Code, real OTel SDK clients, beacon.

The npm installs are session-scoped and cached outside the repository
(``$BEACON_TEST_CACHE`` or ``~/.cache/beacon-tests``); a failed install fails the tests
loudly with npm's output -- nothing here skips.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from beacon.collector import Collector, CollectorConfig
from e2e.claude_install import ensure_claude_code, ensure_node_client
from e2e.messages_stub import MessagesStub


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an end-to-end test (hooks see the whole session)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@dataclass(frozen=True)
class RunFigure:
    """One beacon-wrapped Claude run, for the figures printed after the session."""

    protocol: str
    seconds: float
    expected_records: int  # Claude events + spans the script implies
    captured_records: int  # Claude event + span lines in runtime.jsonl


_FIGURES: list[RunFigure] = []


@pytest.fixture
def record_figure() -> Callable[[RunFigure], None]:
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("beacon e2e figures")
    for protocol in sorted({figure.protocol for figure in _FIGURES}):
        runs = [figure for figure in _FIGURES if figure.protocol == protocol]
        seconds = sorted(figure.seconds for figure in runs)
        terminalreporter.write_line(
            f"{protocol:>14}: {len(runs)} runs, records expected "
            f"{sum(f.expected_records for f in runs)} / captured "
            f"{sum(f.captured_records for f in runs)}, seconds per run "
            f"min {seconds[0]:.2f} median {seconds[len(seconds) // 2]:.2f} max {seconds[-1]:.2f}"
        )


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    return ensure_claude_code()


@pytest.fixture(scope="session")
def node_client_dir() -> Path:
    return ensure_node_client()


@pytest.fixture
def collector_token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
async def collector(tmp_path: Path, collector_token: str) -> AsyncIterator[Collector]:
    """A beacon Collector on 127.0.0.1 with both receivers, spooling to tmp_path."""
    instance = Collector(
        CollectorConfig(
            spool_path=tmp_path / "spool" / "otlp.jsonl",
            receivers=frozenset({"http", "grpc"}),
            token=collector_token,
        )
    )
    (tmp_path / "spool").mkdir()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
async def stub() -> AsyncIterator[MessagesStub]:
    instance = MessagesStub()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
def claude_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work
