"""The fault campaign: kills, full disks, read-only dirs, taken ports, races, odd clocks.

The cheap cases run in the default suite; the ones marked ``faults`` run in
`nox -s faults` (they print what they measured).
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from beacon.collector import Collector, CollectorConfig
from beacon.errors import StartupError
from beacon.run.state import process_alive
from beacon.spool import SpoolWriter, read_spool
from tests.cli.helpers import CHILD, beacon, clean_env, last_json_line, wait_for
from tests.collector.otlp_fixtures import CLAUDE, load_request

GOOD = load_request(CLAUDE / "logs.http-protobuf.json").SerializeToString()


# ------------------------------------------------------------------ exporting clients


def logs_json(bodies: list[str], times: list[int] | None = None) -> bytes:
    records = []
    for i, body in enumerate(bodies):
        record: dict[str, Any] = {"body": {"stringValue": body}}
        if times is not None:
            record["timeUnixNano"] = str(times[i])
        records.append(record)
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "fault-client"}}
                        ]
                    },
                    "scopeLogs": [{"scope": {"name": "fault"}, "logRecords": records}],
                }
            ]
        }
    )


@dataclass
class Exporter:
    """One client: exports one record per request until told to stop or refused."""

    host: str
    port: int
    headers: dict[str, str]
    name: str
    acked: list[str] = field(default_factory=list)
    refused: int = 0
    error: str | None = None

    def run(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            body = f"{self.name}-{n:06d}-end"
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                conn.request("POST", "/v1/logs", body=logs_json([body]), headers=self.headers)
                status = conn.getresponse().status
                conn.close()
            except OSError as exc:  # the collector is gone: nothing more can be acked
                self.error = repr(exc)
                return
            if status == 200:
                self.acked.append(body)
            else:
                self.refused += 1
                if status != 503:
                    self.error = f"HTTP {status}"
                    return
            n += 1


def session_exporters(base: Path, clients: int) -> tuple[list[Exporter], dict[str, str]]:
    env = clean_env(BEACON_CI_BASE_DIR=str(base))
    exports = json.loads(beacon("ci", "session", "env", "--format", "json", env=env).stdout)
    endpoint = exports["OTEL_EXPORTER_OTLP_ENDPOINT"].removeprefix("http://")
    host, _, port = endpoint.rpartition(":")
    headers = {"Content-Type": "application/json"}
    for pair in exports["OTEL_EXPORTER_OTLP_HEADERS"].split(","):
        name, _, value = pair.partition("=")
        headers[name.strip()] = value.replace("%20", " ").strip()
    made = [Exporter(host, int(port), headers, f"fault-c{i:02d}") for i in range(clients)]
    return made, env


def run_exporters(exporters: list[Exporter], until: Callable[[], None]) -> None:
    """Run every exporter on a thread, call ``until`` (the fault), stop and join them."""
    stop = threading.Event()
    threads = [threading.Thread(target=e.run, args=(stop,), daemon=True) for e in exporters]
    for thread in threads:
        thread.start()
    try:
        until()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def runtime_bodies(log_path: Path) -> set[str]:
    text = log_path.read_text()
    return {word for word in _words(text) if word.startswith("fault-c")}


def _words(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        for token in line.replace('"', " ").replace(",", " ").split():
            if token.endswith("-end"):
                out.append(token)
    return out


def start_session(base: Path) -> dict[str, Any]:
    result = beacon(
        "ci", "session", "start", "--base-dir", str(base), "--harness", "otel", "--json",
        check=True,
    )  # fmt: skip
    return last_json_line(result.stdout)


# ------------------------------------------------------------------ kill -9 under load


@pytest.mark.faults
@pytest.mark.parametrize("clients", [16])
def test_daemon_sigkilled_while_clients_export_loses_nothing_acked(
    tmp_path: Path, clients: int
) -> None:
    base = tmp_path / "beacon"
    info = start_session(base)
    pid = int(info["pid"])
    exporters, env = session_exporters(base, clients)

    def kill_after_load() -> None:
        wait_for(lambda: sum(len(e.acked) for e in exporters) >= 40 * clients, 120, "load")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not process_alive(pid), what="the daemon to die")

    run_exporters(exporters, kill_after_load)
    acked = {body for e in exporters for body in e.acked}
    stop = beacon("ci", "session", "stop", "--json", "--no-require-telemetry", env=env)
    assert stop.returncode == 0, stop.stderr
    found = runtime_bodies(base / "runtime.jsonl")
    lost = acked - found
    print(
        f"\nfault kill -9 under {clients} clients: {len(acked)} acknowledged, "
        f"{len(acked & found)} in runtime.jsonl, {len(lost)} lost, "
        f"{len(found - acked)} written but unacknowledged (in flight at the kill)"
    )
    assert not lost, sorted(lost)[:10]
    assert all(e.error is not None for e in exporters)  # every client saw the daemon go


# ------------------------------------------------------------------ stop racing exports


@pytest.mark.faults
def test_stop_racing_late_exports_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    base = tmp_path / "beacon"
    start_session(base)
    exporters, env = session_exporters(base, 8)
    stopped: list[Any] = []

    def stop_while_exporting() -> None:
        wait_for(lambda: all(len(e.acked) >= 5 for e in exporters), 120, "load")
        stopped.append(beacon("ci", "session", "stop", "--json", env=env, timeout=120))

    run_exporters(exporters, stop_while_exporting)
    (stop,) = stopped
    assert stop.returncode == 0, stop.stderr
    acked = {body for e in exporters for body in e.acked}
    found = runtime_bodies(base / "runtime.jsonl")
    print(
        f"\nfault stop racing 8 exporting clients: {len(acked)} acknowledged, "
        f"{len(acked - found)} lost"
    )
    assert acked <= found


# ------------------------------------------------------------------ disk full


async def _post(session: aiohttp.ClientSession, url: str) -> int:
    async with session.post(
        url, data=GOOD, headers={"Content-Type": "application/x-protobuf"}
    ) as response:
        await response.read()
        return response.status


def _inject_enospc_after(monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    """Where no small filesystem can be mounted: os.write takes ``budget`` bytes, then
    writes part of a call and fails with ENOSPC, as a full disk does."""
    real_write = os.write
    left = [budget]

    def write(fd: int, data: Any) -> int:
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        part = bytes(data)[: left[0]]
        left[0] -= len(part)
        return real_write(fd, part)

    monkeypatch.setattr("beacon.spool.os.write", write)


async def test_disk_full_answers_503_and_rolls_the_torn_line_back(
    tmp_path: Path, full_disk: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = (full_disk or tmp_path) / "otlp.jsonl"
    if full_disk is None:
        _inject_enospc_after(monkeypatch, 48 << 10)
    collector = Collector(CollectorConfig(spool_path=spool, fsync="off"))
    await collector.start()
    statuses: list[int] = []
    try:
        url = collector.endpoints["http"] + "/v1/logs"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for _ in range(200):
                statuses.append(await _post(session, url))
                if statuses[-1] == 503:
                    break
            # Still full: still refused, never acknowledged.
            statuses.append(await _post(session, url))
        spooled = collector._spool
        rollbacks, rollback_errors = spooled.rollbacks, spooled.rollback_errors
    finally:
        await collector.stop(timeout=2)
    assert statuses[-2:] == [503, 503], statuses[-5:]
    assert 200 in statuses
    # The spool ends on a whole line and holds exactly the acknowledged exports.
    data = spool.read_bytes()
    assert data.endswith(b"\n")
    reader = read_spool(spool)
    records = list(reader)
    assert reader.bad_lines == 0 and not reader.truncated_tail
    data_lines = [r for r in records if r.payload["resourceLogs"][0]["scopeLogs"][0]
                  .get("scope", {}).get("name") != "beacon"]  # fmt: skip
    assert len(data_lines) == statuses.count(200)
    # A write the disk cut short was really truncated back (not just never started).
    assert rollbacks >= 1 and rollback_errors == 0
    print(
        f"\nfault disk full ({'tmpfs 64 KiB' if full_disk else 'injected ENOSPC'}): "
        f"{statuses.count(200)} acknowledged and spooled, {statuses.count(503)} answered 503, "
        f"{rollbacks} torn writes rolled back"
    )


async def test_a_torn_line_that_cannot_be_truncated_is_ended_not_glued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ftruncate failing too (as on /dev/full) must not glue the next record to torn bytes."""
    path = tmp_path / "otlp.jsonl"
    writer = SpoolWriter(path, "off")
    await writer.open()
    await writer.append(b'{"resourceLogs":[]}')
    real_write, real_truncate = os.write, os.ftruncate
    calls = [0]

    def write_half_then_fail(fd: int, data: Any) -> int:
        calls[0] += 1
        if calls[0] == 1:
            return real_write(fd, bytes(data)[:7])
        raise OSError(errno.ENOSPC, "No space left on device")

    def no_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr("beacon.spool.os.write", write_half_then_fail)
    monkeypatch.setattr("beacon.spool.os.ftruncate", no_truncate)
    with pytest.raises(Exception, match="cannot write spool"):
        await writer.append(b'{"resourceLogs":[{"torn":1}]}')
    assert writer.rollback_errors == 1
    monkeypatch.setattr("beacon.spool.os.write", real_write)
    await writer.append(b'{"resourceSpans":[]}')
    monkeypatch.setattr("beacon.spool.os.ftruncate", real_truncate)
    await writer.close()
    assert path.read_bytes() == b'{"resourceLogs":[]}\n{"resou\n{"resourceSpans":[]}\n'
    reader = read_spool(path)
    assert [r.signal for r in reader] == ["logs", "traces"]
    assert reader.bad_lines == 1


# ------------------------------------------------------------------ read-only dirs, ports


@pytest.mark.parametrize("command", ["exec", "start"])
def test_a_read_only_base_dir_is_a_clear_error(
    tmp_path: Path, read_only_dir: Path, command: str
) -> None:
    base = read_only_dir / "beacon"
    ran = tmp_path / "child-ran"
    if command == "exec":
        args = ["ci", "exec", "--base-dir", str(base), "--", *CHILD, f"ready:{ran}"]
    else:
        args = ["ci", "session", "start", "--base-dir", str(base)]
    result = beacon(*args)
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    assert str(read_only_dir) in result.stderr
    assert not (base / "session.json").exists()


async def test_a_taken_http_port_is_a_startup_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        collector = Collector(CollectorConfig(spool_path=tmp_path / "otlp.jsonl", http_port=port))
        with pytest.raises(StartupError, match=f"cannot listen for HTTP on 127.0.0.1:{port}"):
            await collector.start()
        await collector.stop()
        # The listener that held the port was not disturbed.
        assert taken.getsockname()[1] == port


# ------------------------------------------------------------------ clocks


def test_timestamps_of_zero_future_and_out_of_order_are_kept_in_arrival_order(
    tmp_path: Path,
) -> None:
    base = tmp_path / "beacon"
    start_session(base)
    exporters, env = session_exporters(base, 1)
    client = exporters[0]
    now = time.time_ns()
    cases = {
        "fault-c00-zero-end": 0,
        "fault-c00-future-end": 4_102_444_800 * 10**9,  # 2100-01-01
        "fault-c00-uint64-max-end": 2**64 - 1,
        "fault-c00-later-end": now,
        "fault-c00-earlier-end": now - 3600 * 10**9,  # arrives after a later one
    }
    conn = http.client.HTTPConnection(client.host, client.port, timeout=30)
    conn.request(
        "POST", "/v1/logs", body=logs_json(list(cases), list(cases.values())),
        headers=client.headers,
    )  # fmt: skip
    assert conn.getresponse().status == 200
    conn.close()
    stop = beacon("ci", "session", "stop", "--json", env=env)
    assert stop.returncode == 0, stop.stderr
    lines = [json.loads(line) for line in (base / "runtime.jsonl").read_text().splitlines()]
    ours = [line for line in lines if "fault-c00-" in json.dumps(line)]
    order = [next(b for b in cases if b in json.dumps(line)) for line in ours]
    # Spool order (arrival), never re-sorted: docs/runtime-schema.md.
    assert order == list(cases)
    stamps = {name: line["timestamp"] for name, line in zip(order, ours, strict=True)}
    assert stamps["fault-c00-future-end"].startswith("2100-01-01T00:00:00")
    assert stamps["fault-c00-uint64-max-end"].startswith("2554-")
    assert stamps["fault-c00-later-end"] > stamps["fault-c00-earlier-end"]
    # 0 means "unset" in OTLP: the line gets the time beacon processed it.
    assert stamps["fault-c00-zero-end"][:4] == time.strftime("%Y", time.gmtime())
    assert all(line["timestamp"].endswith("Z") for line in ours)
