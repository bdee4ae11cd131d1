"""Fixtures for the end-to-end tests: the real Claude Code, real OTel SDK clients, beacon.

The npm installs are session-scoped and cached outside the repository
(``$BEACON_TEST_CACHE`` or ``~/.cache/beacon-tests``); a failed install fails the tests
loudly with npm's output -- nothing here skips.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from beacon.collector import Collector, CollectorConfig
from e2e.claude_install import ensure_claude_code, ensure_node_client
from e2e.messages_stub import MessagesStub

# Every test under tests/e2e is an end-to-end test.
pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


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
