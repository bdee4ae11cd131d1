"""SpoolWriter writes whole lines, fresh files, 0600; read_spool tolerates a torn tail."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from beacon.errors import SpoolError
from beacon.spool import SpoolWriter, read_spool


async def test_open_creates_fresh_file_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "otlp.jsonl"
    writer = SpoolWriter(path)
    await writer.open()
    await writer.append(b'{"resourceLogs":[]}')
    await writer.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b'{"resourceLogs":[]}\n'


async def test_leftover_spool_is_renamed_aside_not_appended(tmp_path: Path) -> None:
    path = tmp_path / "otlp.jsonl"
    path.write_bytes(b'{"resourceLogs":[]}\n{"resourceSp')
    writer = SpoolWriter(path)
    await writer.open()
    await writer.close()
    assert path.read_bytes() == b""
    assert writer.moved_aside is not None
    assert writer.moved_aside.read_bytes() == b'{"resourceLogs":[]}\n{"resourceSp'
    assert writer.moved_aside.name.startswith("otlp.jsonl.")


async def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "otlp.jsonl"
    writer = SpoolWriter(path)
    await writer.open()
    lines = [
        b'{"resourceLogs":[{"schemaUrl":"%d%s"}]}' % (i, b"x" * (i * 997 % 70000))
        for i in range(200)
    ]
    await asyncio.gather(*(writer.append(line) for line in lines))
    await writer.close()
    assert sorted(path.read_bytes().splitlines()) == sorted(lines)


async def test_concurrent_appends_are_batched_and_each_returns_after_its_line_is_stored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "otlp.jsonl"
    writer = SpoolWriter(path)
    await writer.open()
    lines = [b'{"resourceLogs":[{"schemaUrl":"%d"}]}' % i for i in range(100)]

    async def append_then_check(line: bytes) -> None:
        await writer.append(line)
        # Acknowledged only once the line is in the file (what an export's OK relies on).
        assert line + b"\n" in path.read_bytes()

    await asyncio.gather(*(append_then_check(line) for line in lines))
    assert path.read_bytes() == b"".join(line + b"\n" for line in lines)
    assert 1 <= writer.writes < len(lines)
    await writer.close()


async def test_close_writes_appends_queued_behind_a_write_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "otlp.jsonl"
    writer = SpoolWriter(path)
    await writer.open()
    # gather starts its tasks in order: the appends queue up, then close() begins.
    await asyncio.wait_for(
        asyncio.gather(*(writer.append(b"[%d]" % i) for i in range(20)), writer.close()),
        timeout=5,
    )
    assert path.read_bytes() == b"".join(b"[%d]\n" % i for i in range(20))


async def test_append_after_close_or_before_open_raises(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "otlp.jsonl")
    with pytest.raises(SpoolError, match="not open"):
        await writer.append(b"{}")
    await writer.open()
    await writer.close()
    with pytest.raises(SpoolError, match="not open"):
        await writer.append(b"{}")


async def test_close_is_idempotent_and_safe_before_open(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "otlp.jsonl")
    await writer.close()
    await writer.close()
    other = SpoolWriter(tmp_path / "b.jsonl")
    await other.open()
    await other.close()
    await other.close()


async def test_open_in_unwritable_place_raises_spool_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(SpoolError, match="cannot create spool"):
        await SpoolWriter(blocker / "otlp.jsonl").open()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate ENOSPC")
async def test_write_failure_raises_spool_error(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "otlp.jsonl")
    await writer.open()
    # Swap the descriptor for /dev/full: every write fails with ENOSPC, like a full disk.
    full = os.open("/dev/full", os.O_WRONLY)
    assert writer._fd is not None
    os.dup2(full, writer._fd)
    os.close(full)
    with pytest.raises(SpoolError, match="cannot write spool"):
        await writer.append(b'{"resourceLogs":[]}')
    # A failed batch fails every append in it, and nothing half-written stays.
    results = await asyncio.gather(
        *(writer.append(b"[%d]" % i) for i in range(10)), return_exceptions=True
    )
    assert all(isinstance(r, SpoolError) for r in results)
    await writer.close()


def test_read_spool_yields_records_and_reports_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "otlp.jsonl"
    path.write_bytes(
        b'{"resourceLogs":[]}\n'
        b"garbage\n"
        b'{"resourceMetrics":[{"schemaUrl":"m"}]}\n'
        b'{"unknown":1}\n'
        b'{"resourceSpans":[]}\n'
        b'{"resourceSpans":[{"sch'
    )
    reader = read_spool(path)
    records = list(reader)
    assert [r.signal for r in records] == ["logs", "metrics", "traces"]
    assert records[1].payload == {"resourceMetrics": [{"schemaUrl": "m"}]}
    assert reader.truncated_tail is True
    assert reader.bad_lines == 2


def test_read_spool_clean_file_has_no_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "otlp.jsonl"
    path.write_bytes(b'{"resourceLogs":[]}\n{"resourceSpans":[]}\n')
    reader = read_spool(path)
    assert len(list(reader)) == 2
    assert reader.truncated_tail is False
    assert reader.bad_lines == 0


def test_read_spool_unparseable_last_line_with_newline_is_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "otlp.jsonl"
    path.write_bytes(b'{"resourceLogs":[]}\n{"resourceLo\n')
    reader = read_spool(path)
    assert len(list(reader)) == 1
    assert reader.truncated_tail is True


def test_read_spool_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "otlp.jsonl"
    path.write_bytes(b"")
    reader = read_spool(path)
    assert list(reader) == []
    assert reader.truncated_tail is False


def test_read_missing_spool_raises_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpoolError, match="does not exist"):
        read_spool(tmp_path / "nope.jsonl")


# --------------------------------------------------------------------------- --fsync


async def _burst(writer: SpoolWriter, lines: int) -> None:
    await asyncio.gather(*(writer.append(b'{"resourceLogs":[]}') for _ in range(lines)))


async def test_fsync_always_syncs_every_write_before_the_ack(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "otlp.jsonl", "always")
    await writer.open()
    for _ in range(3):
        await writer.append(b'{"resourceLogs":[]}')
        # The ack came after the sync of its own write.
        assert writer.syncs == writer.writes
    await writer.close()
    assert writer.syncs == 3


async def test_fsync_off_never_syncs_while_writing(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "otlp.jsonl", "off")
    await writer.open()
    await _burst(writer, 20)
    assert writer.syncs == 0
    await writer.close()


async def test_fsync_batch_syncs_at_most_every_100ms_and_after_the_burst(tmp_path: Path) -> None:
    from beacon.spool import BATCH_SYNC_S

    writer = SpoolWriter(tmp_path / "otlp.jsonl", "batch")
    await writer.open()
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(40):
        await _burst(writer, 5)
    elapsed = loop.time() - started
    assert writer.writes >= 40
    # A sync at the first write, then at most one per BATCH_SYNC_S.
    assert 1 <= writer.syncs <= 2 + elapsed / BATCH_SYNC_S
    # The burst's last lines get their sync once it is due, without another write.
    await asyncio.wait_for(writer.wait_all_synced(), timeout=5)
    assert writer.all_synced
    assert writer.sync_errors == 0
    await writer.close()


def test_an_unknown_fsync_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync"):
        SpoolWriter(tmp_path / "otlp.jsonl", "sometimes")  # type: ignore[arg-type]
