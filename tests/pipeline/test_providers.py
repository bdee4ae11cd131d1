"""CI provider detection and the run context (one data table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beacon.ci.providers import PROVIDERS, detect_provider, run_context

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_RUN_ID": "7123456789",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_WORKFLOW": "ci",
    "GITHUB_JOB": "agent",
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_SHA": "8f3c2a1b9d4e5f60718293a4b5c6d7e8f9012345",
    "GITHUB_REPOSITORY": "acme/widgets",
    "GITHUB_HEAD_REF": "feature/x",
    "GITHUB_REF_NAME": "42/merge",
    "GITHUB_REF": "refs/pull/42/merge",
    "GITHUB_ACTOR": "octocat",
    "RUNNER_ENVIRONMENT": "github-hosted",
    "CI": "true",
}


def test_github_actions_run_context(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {"pull_request": {"number": 42, "html_url": "https://github.com/acme/widgets/pull/42"}}
        )
    )
    run = run_context({**GITHUB, "GITHUB_EVENT_PATH": str(event)})
    assert run == {
        "provider": "github_actions",
        "run_id": "7123456789",
        "run_attempt": "2",
        "workflow": "ci",
        "job": "agent",
        "event_name": "pull_request",
        "commit": "8f3c2a1b9d4e5f60718293a4b5c6d7e8f9012345",
        "repository": "acme/widgets",
        "branch": "feature/x",
        "actor": "octocat",
        "pr_number": "42",
        "pr": "https://github.com/acme/widgets/pull/42",
        "ephemeral": True,
    }
    assert all(isinstance(v, str) for k, v in run.items() if k != "ephemeral")


def test_github_push_uses_the_ref_name_and_no_pr() -> None:
    env = {
        **GITHUB,
        "GITHUB_HEAD_REF": "",
        "GITHUB_REF_NAME": "main",
        "GITHUB_REF": "refs/heads/main",
    }
    run = run_context(env)
    assert run["branch"] == "main"
    assert "pr_number" not in run and "pr" not in run


def test_github_pr_number_from_the_ref_when_no_event_file(tmp_path: Path) -> None:
    broken = tmp_path / "event.json"
    broken.write_text("{not json")
    run = run_context({**GITHUB, "GITHUB_EVENT_PATH": str(broken)})
    assert run["pr_number"] == "42"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {
                "GITLAB_CI": "true",
                "CI_PIPELINE_ID": "991",
                "CI_COMMIT_SHA": "abc",
                "CI_MERGE_REQUEST_IID": "7",
                "CI_COMMIT_REF_NAME": "main",
                "CI_PROJECT_PATH": "acme/w",
            },
            {
                "provider": "gitlab_ci",
                "run_id": "991",
                "commit": "abc",
                "pr_number": "7",
                "branch": "main",
                "repository": "acme/w",
            },
        ),
        (
            {
                "BUILDKITE": "true",
                "BUILDKITE_BUILD_ID": "b-1",
                "BUILDKITE_PULL_REQUEST": "false",
                "BUILDKITE_BRANCH": "dev",
            },
            {"provider": "buildkite", "run_id": "b-1", "branch": "dev"},
        ),
        (
            {
                "CIRCLECI": "true",
                "CIRCLE_WORKFLOW_ID": "wf",
                "CIRCLE_SHA1": "def",
                "CIRCLE_PR_NUMBER": "3",
            },
            {
                "provider": "circleci",
                "run_id": "wf",
                "workflow": "wf",
                "commit": "def",
                "pr_number": "3",
            },
        ),
        (
            {
                "JENKINS_URL": "https://ci.example.com/",
                "BUILD_NUMBER": "12",
                "GIT_COMMIT": "f00",
                "CHANGE_ID": "9",
            },
            {"provider": "jenkins", "run_id": "12", "commit": "f00", "pr_number": "9"},
        ),
        (
            {
                "TF_BUILD": "True",
                "BUILD_BUILDID": "55",
                "BUILD_SOURCEVERSION": "aaa",
                "BUILD_REASON": "PullRequest",
            },
            {
                "provider": "azure_pipelines",
                "run_id": "55",
                "commit": "aaa",
                "event_name": "PullRequest",
            },
        ),
        ({"CI": "true"}, {"provider": "generic"}),
        ({"CI": "1"}, {"provider": "generic"}),
        ({}, {}),
        ({"CI": "false"}, {}),
    ],
)
def test_other_providers(environ: dict[str, str], expected: dict[str, str]) -> None:
    assert run_context(environ) == expected


def test_absent_values_are_omitted_never_empty() -> None:
    run = run_context({"GITHUB_ACTIONS": "true", "GITHUB_SHA": "", "GITHUB_ACTOR": "  "})
    assert run == {"provider": "github_actions"}


def test_specific_providers_win_over_generic_ci() -> None:
    provider = detect_provider({"CI": "true", "GITLAB_CI": "true"})
    assert provider is not None and provider.name == "gitlab_ci"
    assert PROVIDERS[-1].name == "generic"
