"""Soak: a real session daemon under mixed clients for a while; nothing lost, nothing leaking.

    python -m benchmarks.soak [--seconds 120] [--clients 32]      (nox -s soak)

``beacon ci session start --receivers all`` runs the production daemon. The
clients cycle through OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC and
through logs, traces and metrics, each record carrying a unique marker. The
daemon's RSS and open descriptors are sampled throughout. After
``session stop`` every acknowledged marker must be in runtime.jsonl. Prints
the figures; exits 1 on any error, any loss, RSS growth past the bound or
descriptors left behind. Traffic goes to 127.0.0.1 only and ends at the deadline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

PYTHON = sys.executable
BEACON = str(Path(PYTHON).with_name("beacon"))
PROTOCOLS = ("http/protobuf", "http/json", "grpc")
SIGNALS = ("logs", "traces", "metrics")
RECORDS_PER_REQUEST = 5
GRPC_METHOD = {
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}
#: The daemon may grow this much (MB) past its RSS after warm-up: caches fill,
#: the allocator keeps arenas. A leak over the soak goes well past it.
RSS_GROWTH_BOUND_MB = 40.0
MARKER = re.compile(r"soak-c\d\d-\d{6}-r\d")


def request(signal: str, markers: list[str]) -> Any:
    from beacon.otlp.codec import REQUEST_TYPES

    req = REQUEST_TYPES[signal]()
    now = time.time_ns()
    if signal == "logs":
        resource = req.resource_logs.add()
        records = resource.scope_logs.add().log_records
        for marker in markers:
            records.add(time_unix_nano=now).body.string_value = marker
    elif signal == "traces":
        resource = req.resource_spans.add()
        spans = resource.scope_spans.add().spans
        for i, marker in enumerate(markers):
            spans.add(
                name=marker,
                trace_id=os.urandom(16),
                span_id=(i + 1).to_bytes(8, "big"),
                start_time_unix_nano=now,
                end_time_unix_nano=now + 1000,
            )
    else:
        resource = req.resource_metrics.add()
        metrics = resource.scope_metrics.add().metrics
        for marker in markers:
            metric = metrics.add(name=marker)
            metric.gauge.data_points.add(time_unix_nano=now, as_int=1)
    attr = resource.resource.attributes.add(key="service.name")
    attr.value.string_value = "beacon-soak"
    return req


@dataclass
class Client:
    index: int
    protocol: str
    env: dict[str, str]
    acked: list[str] = field(default_factory=list)
    requests: int = 0
    errors: list[str] = field(default_factory=list)

    def run(self, deadline: float) -> None:
        endpoint = self.env["OTEL_EXPORTER_OTLP_ENDPOINT"].removeprefix("http://")
        token = self.env["OTEL_EXPORTER_OTLP_HEADERS"].split("=", 1)[1].replace("%20", " ")
        host, _, port = endpoint.rpartition(":")
        channel = None
        if self.protocol == "grpc":
            import grpc

            grpc_endpoint = self.env["BEACON_SOAK_GRPC"]
            channel = grpc.insecure_channel(grpc_endpoint)
        n = 0
        try:
            while time.monotonic() < deadline:
                signal = SIGNALS[n % len(SIGNALS)]
                markers = [
                    f"soak-c{self.index:02d}-{n:06d}-r{r}" for r in range(RECORDS_PER_REQUEST)
                ]
                req = request(signal, markers)
                try:
                    if channel is not None:
                        call = channel.unary_unary(GRPC_METHOD[signal])
                        call(
                            req.SerializeToString(),
                            metadata=(("authorization", token),),
                            timeout=30,
                        )
                    else:
                        self._http(host, int(port), token, signal, req)
                except Exception as exc:  # every failure is a figure, not a crash
                    self.errors.append(f"{self.protocol} {signal}: {exc!r}"[:300])
                else:
                    self.acked.extend(markers)
                self.requests += 1
                n += 1
        finally:
            if channel is not None:
                channel.close()

    def _http(self, host: str, port: int, token: str, signal: str, req: Any) -> None:
        from beacon.otlp.codec import request_to_dict

        if self.protocol == "http/json":
            body, content_type = orjson.dumps(request_to_dict(signal, req)), "application/json"
        else:
            body, content_type = req.SerializeToString(), "application/x-protobuf"
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.request(
                "POST",
                f"/v1/{signal}",
                body=body,
                headers={"Content-Type": content_type, "Authorization": token},
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
        finally:
            conn.close()


def _rss_mb_and_fds(pid: int) -> tuple[float, int]:
    with Path(f"/proc/{pid}/status").open() as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss_kb / 1024, sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def _beacon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BEACON, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def soak(seconds: float, clients: int) -> dict[str, Any]:
    base = tempfile.mkdtemp(prefix="beacon-soak-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "OTEL_"))}
    env["BEACON_CI_BASE_DIR"] = base
    started = _beacon(
        "ci", "session", "start", "--receivers", "all", "--harness", "otel", "--json", env=env
    )
    if started.returncode != 0:
        raise SystemExit(f"session start failed: {started.stderr}")
    info = json.loads(started.stdout.splitlines()[-1])
    pid = int(info["pid"])
    exported = json.loads(_beacon("ci", "session", "env", "--format", "json", env=env).stdout)
    state = json.loads(Path(base, "session.json").read_text())
    client_env = {
        **exported,
        "BEACON_SOAK_GRPC": state["endpoints"]["grpc"].removeprefix("http://"),
    }
    rss_start, fds_start = _rss_mb_and_fds(pid)
    deadline = time.monotonic() + seconds
    workers = [Client(i, PROTOCOLS[i % len(PROTOCOLS)], client_env) for i in range(clients)]
    threads = [threading.Thread(target=w.run, args=(deadline,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    samples: list[tuple[float, float, int]] = []
    began = time.monotonic()
    while any(t.is_alive() for t in threads):
        rss, fds = _rss_mb_and_fds(pid)
        samples.append((time.monotonic() - began, rss, fds))
        alive = next((t for t in threads if t.is_alive()), None)
        if alive is not None:
            alive.join(timeout=2.0)  # the sampling interval, also the join
    # Clients gone: their connections close; the descriptors must come back down.
    settle = time.monotonic() + 15
    rss_end, fds_end = _rss_mb_and_fds(pid)
    while fds_end > fds_start + 2 and time.monotonic() < settle:
        time.sleep(0.2)  # sampling /proc, not synchronising
        rss_end, fds_end = _rss_mb_and_fds(pid)
    stop = _beacon("ci", "session", "stop", "--json", env=env)
    log_text = Path(base, "runtime.jsonl").read_text() if stop.returncode == 0 else ""
    found = set(MARKER.findall(log_text))
    acked = [m for w in workers for m in w.acked]
    warm = [rss for t, rss, _ in samples if t >= min(10.0, seconds / 4)] or [rss_end]
    result = {
        "seconds": round(time.monotonic() - began, 1),
        "clients": clients,
        "requests": sum(w.requests for w in workers),
        "records_acked": len(acked),
        "records_in_runtime_jsonl": len(found & set(acked)),
        "lost": len(set(acked) - found),
        "errors": sum(len(w.errors) for w in workers),
        "first_errors": [e for w in workers for e in w.errors][:5],
        "stop_exit_code": stop.returncode,
        "rss_mb": {
            "start": round(rss_start, 1),
            "after_warmup": round(warm[0], 1),
            "peak": round(max(s[1] for s in samples), 1),
            "end": round(rss_end, 1),
        },
        "fds": {
            "start": fds_start,
            "peak": max(s[2] for s in samples),
            "end": fds_end,
        },
        "base_dir": base,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    result = soak(args.seconds, args.clients)
    rss = result["rss_mb"]
    problems = []
    if result["errors"]:
        problems.append(f"{result['errors']} client errors")
    if result["lost"]:
        problems.append(f"{result['lost']} acknowledged records lost")
    if result["stop_exit_code"] != 0:
        problems.append(f"session stop exited {result['stop_exit_code']}")
    if rss["peak"] - rss["after_warmup"] > RSS_GROWTH_BOUND_MB:
        problems.append(f"RSS grew {rss['peak'] - rss['after_warmup']:.0f} MB after warm-up")
    if result["fds"]["end"] > result["fds"]["start"] + 2:
        problems.append(f"descriptors {result['fds']['start']} -> {result['fds']['end']}")
    print(json.dumps(result, indent=2))
    print(
        f"soak: {result['seconds']} s, {result['clients']} clients, {result['requests']} "
        f"requests, {result['records_acked']} records acknowledged, {result['lost']} lost, "
        f"{result['errors']} errors; daemon RSS {rss['start']} -> {rss['after_warmup']} "
        f"(warm) -> peak {rss['peak']} -> {rss['end']} MB; fds {result['fds']['start']} -> "
        f"peak {result['fds']['peak']} -> {result['fds']['end']}"
    )
    if problems:
        print("soak FAILED: " + "; ".join(problems))
        raise SystemExit(1)
    import shutil

    shutil.rmtree(result["base_dir"], ignore_errors=True)


if __name__ == "__main__":
    main()
