"""Which CI system runs us and the run context it exposes, as one data table.

``PROVIDERS`` is read top to bottom; the first provider whose detection
variable is set wins, ``generic`` (``CI=true``) last. Each run field lists
the environment variables to try, first non-empty wins. Values are strings;
absent values are omitted, never ``""``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

# Values some providers put in a variable when it does not apply (Buildkite: "false").
_NOT_A_VALUE = frozenset({"", "false", "null", "none", "undefined"})
_PULL_REF_RE = re.compile(r"^refs/(?:pull|merge-requests)/(\d+)/")
_MAX_EVENT_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Provider:
    name: str
    # (variable, expected value or None for "any non-empty"), any of them detects.
    detect: tuple[tuple[str, str | None], ...]
    fields: Mapping[str, tuple[str, ...]]
    # Variables holding a git ref such as refs/pull/42/merge, for the PR number.
    pull_ref_vars: tuple[str, ...] = ()
    # Variable naming a JSON webhook payload file holding pull_request.number/html_url.
    event_file_var: str | None = None
    # run.ephemeral: variable -> values meaning "a fresh machine per job".
    ephemeral: tuple[str, frozenset[str]] | None = None


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        name="github_actions",
        detect=(("GITHUB_ACTIONS", "true"),),
        fields={
            "run_id": ("GITHUB_RUN_ID",),
            "run_attempt": ("GITHUB_RUN_ATTEMPT",),
            "workflow": ("GITHUB_WORKFLOW",),
            "job": ("GITHUB_JOB",),
            "event_name": ("GITHUB_EVENT_NAME",),
            "commit": ("GITHUB_SHA",),
            "repository": ("GITHUB_REPOSITORY",),
            "branch": ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"),
            "actor": ("GITHUB_ACTOR",),
        },
        pull_ref_vars=("GITHUB_REF",),
        event_file_var="GITHUB_EVENT_PATH",
        ephemeral=("RUNNER_ENVIRONMENT", frozenset({"github-hosted"})),
    ),
    Provider(
        name="gitlab_ci",
        detect=(("GITLAB_CI", "true"),),
        fields={
            "run_id": ("CI_PIPELINE_ID",),
            "workflow": ("CI_PIPELINE_NAME", "CI_PROJECT_NAME"),
            "job": ("CI_JOB_NAME",),
            "event_name": ("CI_PIPELINE_SOURCE",),
            "commit": ("CI_COMMIT_SHA",),
            "repository": ("CI_PROJECT_PATH",),
            "branch": ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_REF_NAME"),
            "pr_number": ("CI_MERGE_REQUEST_IID",),
            "pr": ("CI_MERGE_REQUEST_PROJECT_URL",),
            "actor": ("GITLAB_USER_LOGIN",),
        },
    ),
    Provider(
        name="buildkite",
        detect=(("BUILDKITE", "true"),),
        fields={
            "run_id": ("BUILDKITE_BUILD_ID",),
            "run_attempt": ("BUILDKITE_RETRY_COUNT",),
            "workflow": ("BUILDKITE_PIPELINE_SLUG",),
            "job": ("BUILDKITE_LABEL", "BUILDKITE_STEP_KEY"),
            "event_name": ("BUILDKITE_SOURCE",),
            "commit": ("BUILDKITE_COMMIT",),
            "repository": ("BUILDKITE_REPO",),
            "branch": ("BUILDKITE_BRANCH",),
            "pr_number": ("BUILDKITE_PULL_REQUEST",),
            "actor": ("BUILDKITE_BUILD_CREATOR",),
        },
    ),
    Provider(
        name="circleci",
        detect=(("CIRCLECI", "true"),),
        fields={
            "run_id": ("CIRCLE_WORKFLOW_ID", "CIRCLE_BUILD_NUM"),
            "workflow": ("CIRCLE_WORKFLOW_ID",),
            "job": ("CIRCLE_JOB",),
            "commit": ("CIRCLE_SHA1",),
            "repository": ("CIRCLE_PROJECT_REPONAME",),
            "branch": ("CIRCLE_BRANCH",),
            "pr_number": ("CIRCLE_PR_NUMBER",),
            "pr": ("CIRCLE_PULL_REQUEST",),
            "actor": ("CIRCLE_USERNAME",),
        },
    ),
    Provider(
        name="azure_pipelines",
        detect=(("TF_BUILD", "true"),),
        fields={
            "run_id": ("BUILD_BUILDID",),
            "run_attempt": ("SYSTEM_JOBATTEMPT",),
            "workflow": ("BUILD_DEFINITIONNAME",),
            "job": ("SYSTEM_JOBDISPLAYNAME", "AGENT_JOBNAME"),
            "event_name": ("BUILD_REASON",),
            "commit": ("BUILD_SOURCEVERSION",),
            "repository": ("BUILD_REPOSITORY_NAME",),
            "branch": ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCHNAME"),
            "pr_number": (
                "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER",
                "SYSTEM_PULLREQUEST_PULLREQUESTID",
            ),
            "actor": ("BUILD_REQUESTEDFOR",),
        },
    ),
    Provider(
        name="jenkins",
        detect=(("JENKINS_URL", None),),
        fields={
            "run_id": ("BUILD_ID", "BUILD_NUMBER"),
            "workflow": ("JOB_NAME",),
            "job": ("STAGE_NAME", "JOB_BASE_NAME"),
            "commit": ("GIT_COMMIT",),
            "repository": ("GIT_URL",),
            "branch": ("CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH"),
            "pr_number": ("CHANGE_ID",),
            "pr": ("CHANGE_URL",),
            "actor": ("CHANGE_AUTHOR",),
        },
    ),
    Provider(name="generic", detect=(("CI", "true"), ("CI", "1")), fields={}),
)


def _value(environ: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = environ.get(name)
        if value is not None and value.strip().lower() not in _NOT_A_VALUE:
            return value.strip()
    return None


def detect_provider(environ: Mapping[str, str]) -> Provider | None:
    for provider in PROVIDERS:
        for name, expected in provider.detect:
            value = environ.get(name)
            if value is None or not value.strip():
                continue
            if expected is None or value.strip().lower() == expected:
                return provider
    return None


def _pull_request_from_event_file(path: str) -> dict[str, str]:
    # The webhook payload; unreadable or odd files just give nothing.
    try:
        file = Path(path)
        if file.stat().st_size > _MAX_EVENT_FILE_BYTES:
            return {}
        payload = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError, ValueError):
        return {}
    pull = payload.get("pull_request") if isinstance(payload, dict) else None
    if not isinstance(pull, dict):
        return {}
    result: dict[str, str] = {}
    number = pull.get("number")
    if isinstance(number, int) and not isinstance(number, bool):
        result["pr_number"] = str(number)
    url = pull.get("html_url")
    if isinstance(url, str) and url:
        result["pr"] = url
    return result


def run_context(environ: Mapping[str, str]) -> dict[str, str | bool]:
    """The ``run`` object of every runtime line: provider and run fields (strings).

    Empty when no CI system is detected.
    """
    provider = detect_provider(environ)
    if provider is None:
        return {}
    run: dict[str, str | bool] = {"provider": provider.name}
    for run_field, names in provider.fields.items():
        value = _value(environ, names)
        if value is not None:
            run[run_field] = value
    if provider.event_file_var:
        event_path = _value(environ, (provider.event_file_var,))
        if event_path:
            for key, value in _pull_request_from_event_file(event_path).items():
                run.setdefault(key, value)
    if "pr_number" not in run:
        for name in provider.pull_ref_vars:
            match = _PULL_REF_RE.match(environ.get(name, ""))
            if match:
                run["pr_number"] = match.group(1)
                break
    if provider.ephemeral is not None:
        name, values = provider.ephemeral
        marker = environ.get(name)
        if marker:
            run["ephemeral"] = marker.strip().lower() in values
    return run
