"""A scriptable child for `beacon ci exec` tests: python child.py ACTION...

Actions run in order:
  out:TEXT / err:TEXT   print a line to stdout / stderr
  env:PATH              dump the environment as JSON to PATH
  log:BODY              export one log record with the OpenTelemetry Python SDK, using
                        only the OTEL_* environment (protocol grpc or http/protobuf)
  logenv:NAME           export a log record whose body holds $NAME's value
  claude:EVENT:JSON     export a Claude-Code-shaped event record (body claude_code.EVENT,
                        the JSON object's members as attributes)
  ready:PATH            create PATH (tells the test the child is running)
  waitsig:PATH          block until SIGINT/SIGTERM/SIGHUP arrives, write its number to PATH
  exit:CODE             exit with CODE
  kill:SIGNUM           kill itself with SIGNUM
  hang                  block forever (only a signal ends it)
  waitfile:PATH         block until PATH exists (at most 120 s)
  ignore                ignore SIGINT/SIGTERM/SIGHUP from here on (only SIGKILL ends it)
  stream:PATH           export one log record every ~5 ms with one SDK provider, appending
                        each acknowledged body to PATH, until SIGINT/SIGTERM/SIGHUP arrives
                        (then go on with the next action) or 3000 records
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

CAUGHT = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def export_log(body: str, attributes: dict[str, Any] | None = None) -> None:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    exporter: Any
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[no-redef]
            OTLPLogExporter,
        )
    inner = OTLPLogExporter()
    failures: list[object] = []

    class Checked:
        def export(self, batch: Any) -> Any:
            result = inner.export(batch)
            if result != LogRecordExportResult.SUCCESS:
                failures.append(result)
            return result

        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

    exporter = Checked()
    provider = LoggerProvider(resource=Resource.create({"service.name": "beacon-cli-test"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    provider.get_logger("beacon.cli.test").emit(
        body=body, attributes=attributes if attributes is not None else {"test.body": body}
    )
    provider.shutdown()
    if failures:
        raise SystemExit(f"export of {body!r} failed: {failures}")


STREAM_MAX = 3000
STREAM_PACE_S = 0.005


def stream_logs(acked_path: str) -> None:
    """Records in flight until a signal: the acknowledged ones are listed in ``acked_path``."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
            OTLPLogExporter,
        )
    inner = OTLPLogExporter()
    results: list[object] = []

    class Recording:
        def export(self, batch: Any) -> Any:
            result = inner.export(batch)
            results.append(result)
            return result

        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

    provider = LoggerProvider(resource=Resource.create({"service.name": "beacon-cli-test"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(Recording()))
    logger = provider.get_logger("beacon.cli.test")
    pid = os.getpid()
    with Path(acked_path).open("a", encoding="utf-8") as acked:
        for n in range(STREAM_MAX):
            body = f"stream-{pid}-{n:05d}"
            results.clear()  # an export that raised leaves no result: not acknowledged
            logger.emit(body=body, attributes={"test.body": body})
            if results and results[-1] == LogRecordExportResult.SUCCESS:
                acked.write(body + "\n")
                acked.flush()
            # A signal ends the stream; otherwise this paces it (ignored ones never come).
            if signal.sigtimedwait(CAUGHT, STREAM_PACE_S) is not None:
                break
    provider.shutdown()


def main(actions: list[str]) -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, CAUGHT)
    for action in actions:
        verb, _, arg = action.partition(":")
        if verb == "out":
            print(arg, flush=True)
        elif verb == "err":
            print(arg, file=sys.stderr, flush=True)
        elif verb == "env":
            Path(arg).write_text(json.dumps(dict(os.environ)))
        elif verb == "log":
            export_log(arg)
        elif verb == "claude":
            event, _, attrs = arg.partition(":")
            export_log(f"claude_code.{event}", json.loads(attrs))
        elif verb == "logenv":
            export_log(f"{arg} is {os.environ.get(arg)}")
        elif verb == "ready":
            Path(arg).touch()
        elif verb == "waitsig":
            received = signal.sigwait(CAUGHT)
            Path(arg).write_text(str(int(received)))
        elif verb == "exit":
            return int(arg)
        elif verb == "kill":
            signal.pthread_sigmask(signal.SIG_UNBLOCK, CAUGHT)
            os.kill(os.getpid(), int(arg))
        elif verb == "waitfile":
            deadline = time.monotonic() + 120
            while not Path(arg).exists() and time.monotonic() < deadline:
                time.sleep(0.01)  # polling a condition the test sets
        elif verb == "ignore":
            for signum in CAUGHT:
                signal.signal(signum, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, CAUGHT)
        elif verb == "stream":
            stream_logs(arg)
        elif verb == "hang":
            signal.pthread_sigmask(signal.SIG_UNBLOCK, CAUGHT)
            signal.pause()
        else:
            raise SystemExit(f"unknown action {action!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
