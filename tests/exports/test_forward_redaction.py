"""What a forward sends downstream: every string redacted, and the whole value of an
attribute whose name says it is a secret (the same rule as runtime.jsonl's own objects)."""

from __future__ import annotations

from typing import Any

from beacon.exports.otlp import redact_strings
from beacon.pipeline.redact import Counts, Redactor


def _attribute(key: str, text: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": text}}


def test_an_attribute_named_for_a_secret_goes_downstream_as_a_placeholder() -> None:
    token = "ghp_" + "Ab1" * 12
    payload = {
        "resourceLogs": [
            {
                "resource": {"attributes": [_attribute("deploy.api_key", "plainvalue123")]},
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "body": {"stringValue": f"pushed with {token}"},
                                "attributes": [
                                    _attribute("db_password", "hunter2zz"),
                                    _attribute(
                                        "http.request.header.authorization", "Basic dXNlcjpwYXNz"
                                    ),
                                    _attribute("input_tokens", "9553"),
                                    _attribute("token", "ab"),
                                    {"key": "count", "value": {"intValue": "3"}},
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    counts: Counts = {}
    redact_strings(payload, Redactor(), counts)
    logs = payload["resourceLogs"][0]
    record = logs["scopeLogs"][0]["logRecords"][0]
    values = {a["key"]: a["value"] for a in record["attributes"]}
    secret = {"stringValue": "[REDACTED:secret_assignment]"}
    assert logs["resource"]["attributes"][0]["value"] == secret
    assert values["db_password"] == values["http.request.header.authorization"] == secret
    assert values["input_tokens"] == {"stringValue": "9553"}
    assert values["token"] == {"stringValue": "ab"}  # too short to be one
    assert values["count"] == {"intValue": "3"}
    assert record["body"] == {"stringValue": "pushed with [REDACTED:github_token]"}
    assert counts == {"secret_assignment": 3, "github_token": 1}
