"""Pure parts: destinations, key layouts, templates, the child's environment, forward targets."""

from __future__ import annotations

import pytest

from beacon.errors import UsageError
from beacon.exports.keys import KeyContext, key_safe, object_key, owner_repo
from beacon.exports.otlp import destination_for
from beacon.exports.settings import (
    ForwardTarget,
    UploadTarget,
    parse_upload,
    without_credentials,
)

RUN = {
    "provider": "github_actions",
    "repository": "octo/widgets",
    "run_id": "77",
    "run_attempt": "1",
    "job": "test (3.12, ubuntu)",
}


def ctx(run: dict[str, object] = RUN, prefix: str = "p/q") -> KeyContext:
    return KeyContext.from_run(prefix=prefix, run=run, session_id="s-1", date="2026-12-07")


def test_default_layout_on_github() -> None:
    key = object_key(ctx(), "runtime.jsonl", layout="default", template=None)
    assert key == "p/q/octo/widgets/77/1/test_3.12_ubuntu/s-1/runtime.jsonl"


def test_fallback_without_a_run_id() -> None:
    key = object_key(
        ctx({"provider": "circleci"}, prefix=""), "result.json", layout="default", template=None
    )
    assert key == "circleci/2026-12-07/s-1/result.json"
    assert object_key(ctx({}, prefix=""), "x", layout="default", template=None) == (
        "local/2026-12-07/s-1/x"
    )


def test_hive_layout() -> None:
    key = object_key(ctx(), "runtime.jsonl", layout="hive", template=None)
    assert key == (
        "p/q/dt=2026-12-07/provider=github_actions/repo=octo__widgets/run=77.1/"
        "test_3.12_ubuntu/s-1/runtime.jsonl"
    )


def test_template_fields_are_key_safe_and_file_appended() -> None:
    key = object_key(
        ctx(), "runtime.jsonl", layout="default", template="{prefix}/{repo}/{date}/{session_id}"
    )
    assert key == "p/q/widgets/2026-12-07/s-1/runtime.jsonl"


@pytest.mark.parametrize("template", ["{nope}/{session_id}", "{repo}/fixed", "{unclosed"])
def test_bad_templates_are_usage_errors(template: str) -> None:
    from beacon.exports.keys import check_template

    with pytest.raises(UsageError):
        check_template(template)


@pytest.mark.parametrize(
    ("text", "safe"),
    [("a b/c", "a_b_c"), ("..", ""), ("ok-1.2_x=y", "ok-1.2_x=y"), ("é", "")],
)
def test_key_safe(text: str, safe: str) -> None:
    assert key_safe(text) == safe


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("octo/widgets", ("octo", "widgets")),
        ("group/sub/project", ("group_sub", "project")),
        ("https://github.com/octo/widgets.git", ("octo", "widgets")),
        ("git@github.com:octo/widgets.git", ("octo", "widgets")),
    ],
)
def test_owner_repo(repository: str, expected: tuple[str, str]) -> None:
    assert owner_repo(repository) == expected


def test_parse_upload_from_urls_and_environment() -> None:
    assert parse_upload("s3://b/x/y/", {}) == UploadTarget("s3", "b", "x/y")
    assert parse_upload("gs://b", {}) == UploadTarget("gcs", "b", "")
    env = {"BEACON_CI_GCS_BUCKET": "g", "BEACON_CI_GCS_PREFIX": "/pre/"}
    assert parse_upload("gcs", env) == UploadTarget("gcs", "g", "pre")
    with pytest.raises(UsageError, match="BEACON_CI_S3_BUCKET"):
        parse_upload("s3", {})
    with pytest.raises(UsageError, match="unknown upload destination"):
        parse_upload("azure://x", {})


def test_credentials_are_removed_from_the_child() -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/t",
        "GOOGLE_APPLICATION_CREDENTIALS": "/g",
        "CLOUDSDK_AUTH_ACCESS_TOKEN": "c",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "u",
        "BEACON_CI_FALCON_HEC_TOKEN": "f",
        "PATH": "/bin",
        "AWS_REGION": "eu-west-1",
    }
    assert without_credentials(env) == {"PATH": "/bin", "AWS_REGION": "eu-west-1"}


def test_forward_original_uses_the_jobs_own_destination() -> None:
    original = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%20def,team=ai",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/v1/traces",
    }
    destination = destination_for(ForwardTarget("original", ""), original)
    assert destination is not None
    assert destination.protocol == "http/protobuf"
    assert destination.endpoints == {
        "logs": "https://otel.example:4318/v1/logs",
        "metrics": "https://otel.example:4318/v1/metrics",
        "traces": "https://traces.example/v1/traces",
    }
    assert destination.headers == (("x-api-key", "abc def"), ("team", "ai"))
    assert destination_for(ForwardTarget("original", ""), {}) is None
