"""A quick child for `ci exec` / a session step: python otlp_post.py BODY...

Posts one OTLP/JSON log record per BODY to the collector named by the OTEL_*
environment beacon gives its child, and fails unless each is acknowledged.
Standard library only: it starts in a fraction of the OpenTelemetry SDK's time.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def main(bodies: list[str]) -> int:
    endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/logs"
    headers = {"Content-Type": "application/json"}
    for pair in os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "").split(","):
        name, _, value = pair.partition("=")
        if name.strip():
            headers[name.strip()] = value.replace("%20", " ").strip()
    for body in bodies:
        record = {"body": {"stringValue": body}}
        payload = {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "post"}}]
                    },
                    "scopeLogs": [{"scope": {"name": "post"}, "logRecords": [record]}],
                }
            ]
        }
        request = urllib.request.Request(  # noqa: S310 - the loopback collector
            endpoint, data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            if response.status != 200:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
