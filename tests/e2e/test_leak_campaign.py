"""The leak campaign with the real client (nox -s leaks): plant a value of every redaction
family where Claude Code exports it, run it under beacon, grep every artifact.

Each case is one job (``leak_job.py``), inside a loopback-only network namespace when
the tests run as root: Claude Code (the pin and the floor), in ``ci exec`` and in session
mode, over HTTP/protobuf and gRPC, with ``--upload s3`` (moto) and ``--forward otlp`` (a
second beacon).

Planted: one realistic value per family (tests/pipeline/secret_strategies.py) in the
prompt and in a Bash command (so in the command, its output and the tool's parameters);
a token in a file path and in the path of a Bash command's program (``bash_argv0``);
a secret-named variable (``DEPLOY_API_TOKEN``) whose value no family matches, given only
to ``session start`` (to the exec step in exec mode), which the prompt repeats; in
session mode over gRPC the agent step joins through ``ci exec`` with a variable of its
own (``STEP_API_TOKEN``), repeated too; a resource attribute
(``OTEL_RESOURCE_ATTRIBUTES``) and the job's own OTLP header; a token in the model's
name (``--model``: ``gen_ai.request.model``). Evasions, reported and not asserted:
a token URL-encoded, base64-wrapped, inside ANSI escapes, and split in two halves across
attributes.

Grepped: every file in the base dir, the state files while the run was live, the job
summary, ``GITHUB_OUTPUT`` and ``GITHUB_ENV``, every beacon command's stdout and stderr,
the uploaded objects and the forwarded payloads as received. The state files and the
``GITHUB_ENV`` file may hold the job's own ``OTEL_RESOURCE_ATTRIBUTES`` (docs/security.md,
"What the state files hold"): that one variable is left out of them, and nothing else.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis.errors import NonInteractiveExampleWarning
from pipeline.secret_strategies import FAMILIES

from e2e.agent_job import in_namespace_command
from e2e.beacon_cli import github_env_blocks
from e2e.claude_install import chosen_versions, ensure_claude_code, resolve_version
from e2e.claude_runner import run_process
from e2e.leak_job import LeakSpec, write_spec
from e2e.runtime_checks import Line, get, load_runtime, of_run
from e2e.scenarios import fake_github_token, version_tuple

# Spread over text that Claude Code exports more than once (prompt and prompt_text
# in newer versions), bash commands and tool parameters.
MULTILINE = {"private_key", "google_service_account"}
PROMPT_TEXT_SINCE = (2, 1, 332)
#: The job's own variables the state files and GITHUB_ENV may carry (docs/security.md).
PASSED_THROUGH = ("OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_HEADERS")
STATE_JSON = ("session.json", "exec.json")
STATE = ("session.json", "session.env", "github_env")
GITHUB_ENV_FILES = ("GITHUB_ENV", "github_env")  # the runner's file; its snapshots
JOB_LIMIT_S = 420.0


def planted_values() -> dict[str, tuple[str, str]]:
    """family -> (the text to plant, the secret inside it): fresh random values each run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        return {family: strategy.example() for family, strategy in FAMILIES.items()}


def opaque_secret() -> str:
    """A value no family matches: only the variable's name makes it a secret."""
    return "Dq7" + secrets.token_hex(14)


@dataclass
class Campaign:
    """What one run plants, where, and what must not survive."""

    secrets: dict[str, str]
    """label -> a value that must appear in no artifact."""
    passthrough: tuple[str, ...]
    """The job's own values that the state files may hold (:data:`PASSED_THROUGH`)."""
    evasions: dict[str, tuple[str, ...]]
    """how -> the pieces whose presence together in one artifact means it survived."""
    spec_parts: dict[str, Any] = field(default_factory=dict)


#: The evasions beacon's redaction undoes: asserted. The others (a base64-wrapped token,
#: halves of one token in two fields) are reported.
UNDONE_EVASIONS = frozenset(
    {"ansi-wrapped token", "token in a URL query", "url-encoded assignment"}
)


def _evasions() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(how -> what is planted in the prompt, how -> what must not be found together)."""
    ansi, query, wrapped = fake_github_token(), fake_github_token(), fake_github_token()
    assignment = "password=Qx" + fake_github_token()[4:20] + "7!"
    planted_b64 = base64.b64encode(wrapped.encode()).decode()
    planted = {
        "ansi-wrapped token": f"\x1b[31m{ansi}\x1b[0m",
        "token in a URL query": f"https://x.invalid/?t={query}&u=1",
        "url-encoded assignment": urllib.parse.quote(assignment, safe=""),
        "base64-wrapped token": planted_b64,
    }
    found = {
        "ansi-wrapped token": (ansi,),
        "token in a URL query": (query,),
        # The secret's own characters ("!" is "%21" in the planted text).
        "url-encoded assignment": (assignment[len("password=") : -1],),
        "base64-wrapped token": (planted_b64,),
    }
    return planted, found


def build_campaign(work: Path, joining: bool) -> Campaign:
    """``joining``: the agent step joins the session through ``ci exec`` with a secret of
    its own (``STEP_API_TOKEN``), which the prompt repeats too."""
    plants = planted_values()
    env_secret = opaque_secret()
    step_secret = opaque_secret() if joining else None
    resource_secret = plants["aws_access_key"][1]
    vendor_key = opaque_secret()  # the job's own OTLP destination's key, in its headers
    argv0_token, write_token, model_token = (fake_github_token() for _ in range(3))
    # Halves of one token: in a resource attribute and the prompt; in two tool parameters.
    across_resource, across_params = fake_github_token(), fake_github_token()
    planted, evasions = _evasions()
    evasions["split: resource attribute + prompt"] = (across_resource[:20], across_resource[20:])
    evasions["split: two tool parameters"] = (across_params[:20], across_params[20:])
    one_line = [text for family, (text, _) in plants.items() if family not in MULTILINE]
    prompt = (
        "Deploy with these: "
        + " ; ".join(text for text, _ in plants.values())
        + f" and the deploy value {env_secret} "
        + " ".join(planted.values())
        + f" then {across_resource[20:]}"
        + (f" and the step value {step_secret}" if step_secret else "")
    )
    command = "echo " + " ".join(f"'{text}'" for text in one_line)
    tools: list[list[Any]] = [
        ["Bash", {"command": command, "description": "Print the deploy values"}],
        ["Bash", {"command": f"{work}/bin-{argv0_token}/deploy --dry-run", "description": "Run"}],
        ["Bash", {"command": f"echo {across_params[:20]}", "description": across_params[20:]}],
        ["Write", {"file_path": str(work / f"notes-{write_token}.txt"), "content": command}],
    ]
    found = {family: secret for family, (_, secret) in plants.items()}
    found["env:DEPLOY_API_TOKEN"] = env_secret
    found["bash program path"] = argv0_token
    found["file path"] = write_token
    found["model name"] = model_token
    found["job's OTLP header"] = vendor_key
    if step_secret:
        found["env:STEP_API_TOKEN"] = step_secret
    return Campaign(
        secrets=found,
        passthrough=(resource_secret, vendor_key),
        evasions=evasions,
        spec_parts={
            "prompt": prompt,
            "tools": tools,
            "job_env": {
                "OTEL_RESOURCE_ATTRIBUTES": (
                    f"deploy.key={resource_secret},deploy.part={across_resource[:20]}"
                ),
                "OTEL_EXPORTER_OTLP_HEADERS": f"x-vendor-key={vendor_key}",
            },
            "start_env": {"DEPLOY_API_TOKEN": env_secret},
            # The model's name goes into gen_ai.request.model / gen_ai.response.model (the
            # stub answers with the model asked for) and the api_request events.
            "extra_args": ["--model", f"claude-opus-5-5-{model_token}"],
            "joining_env": {"STEP_API_TOKEN": step_secret} if step_secret else None,
        },
    )


def without_passthrough(name: str, text: str) -> str:
    """A state file, GITHUB_ENV or ``session env``'s output minus the job's own variables
    (:data:`PASSED_THROUGH`) in the fields that carry them, and nothing else."""
    if name.endswith(STATE_JSON):
        state = json.loads(text)
        for key in ("exports", "previous", "original_destination"):
            for variable in PASSED_THROUGH:
                (state.get(key) or {}).pop(variable, None)
        return json.dumps(state)
    if name.endswith("session.env"):
        lines = text.splitlines()
        own = tuple(f"export {name}=" for name in PASSED_THROUGH)
        return "\n".join(line for line in lines if not line.startswith(own))
    if name.endswith(GITHUB_ENV_FILES):
        blocks = github_env_blocks(text)
        return "\n".join(f"{key}={value}" for key, value in blocks if key not in PASSED_THROUGH)
    if name.endswith("-env.stdout"):  # `session env --format json`
        exported = json.loads(text)
        for variable in PASSED_THROUGH:
            exported.pop(variable, None)
        return json.dumps(exported)
    return text


def holds_passthrough(name: str) -> bool:
    return name.endswith((*STATE_JSON, *GITHUB_ENV_FILES, "session.env", "-env.stdout"))


def artifacts_of(root: Path) -> dict[str, str]:
    """Every file beacon left in the base dir and everything the job collected."""
    found: dict[str, str] = {}
    for top in (root / "beacon", root / "collected"):
        for path in sorted(top.rglob("*")):
            if path.is_file():
                name = str(path.relative_to(root))
                found[name] = path.read_bytes().decode("utf-8", "replace")
    return found


@dataclass
class Verdict:
    leaked: list[tuple[str, str]]
    evasions_survived: list[tuple[str, str]]
    passthrough_fields: list[str]


def judge(campaign: Campaign, artifacts: dict[str, str]) -> Verdict:
    leaked, passthrough = [], []
    for name, text in artifacts.items():
        if holds_passthrough(name) and any(value in text for value in campaign.passthrough):
            passthrough.append(name)
        searched = without_passthrough(name, text) if holds_passthrough(name) else text
        for label, value in campaign.secrets.items():
            # A secret-named variable's value must be in no file at all, passthrough or not.
            if value in (text if label.startswith("env:") else searched):
                leaked.append((label, name))
    survived = [
        (how, name)
        for how, pieces in campaign.evasions.items()
        for name, text in artifacts.items()
        if all(piece in text for piece in pieces)
    ]
    return Verdict(leaked, survived, passthrough)


def show(campaign: Campaign, verdict: Verdict, artifacts: dict[str, str]) -> None:
    for how, name in verdict.evasions_survived:
        piece = campaign.evasions[how][-1]
        line = next(line for line in artifacts[name].splitlines() if piece in line)
        at = line.index(piece)
        print(f"  evasion {how} survives in {name}: {line[max(at - 100, 0) : at + 40]!r}")
    for label, name in verdict.leaked:
        value = campaign.secrets[label]
        for line in artifacts[name].splitlines():
            if value in line:
                at = line.index(value)
                print(f"  LEAKED {label} in {name}: {line[max(at - 80, 0) : at + 40]!r}")


def check_reached_telemetry(lines: list[Line], version: str) -> None:
    """The plants reached the client's telemetry (so their absence means redaction), in
    every field that carries them: prompt, prompt_text (2.1.332), the tool's command,
    the program's path (``bash_argv0``, 2.1.332), and the env value learned at start."""
    text = json.dumps(lines)
    assert "[REDACTED:env_value]" in text, "the DEPLOY_API_TOKEN value was not redacted"
    (prompt,) = [line for line in lines if get(line, "event.action") == "prompt.submitted"]
    assert "[REDACTED:" in get(prompt, "prompt.text")
    raw = get(prompt, "raw") or {}
    spans = [line for line in lines if get(line, "beacon.source.signal") == "traces"]
    span_attributes = [get(line, "raw") or {} for line in spans]
    if version_tuple(version) >= PROMPT_TEXT_SINCE:
        assert "[REDACTED:" in str(raw.get("prompt_text")), sorted(raw)
        # bash_argv0 is the program's name for a known command and "other" otherwise:
        # the program's path holding a token never reaches it (nor bash_command_class).
        bash = [a for a in span_attributes if a.get("gen_ai.tool.name") == "Bash"]
        programs = {str(a.get("full_command")).split()[0]: a.get("bash_argv0") for a in bash}
        # Spans may arrive in any order: match each by its (redacted) command.
        assert len(programs) == 2 and programs.pop("echo") == "echo", bash
        ((path, argv0),) = programs.items()
        assert path.endswith("[REDACTED:github_token]/deploy") and argv0 == "other", bash
        assert all(a.get("bash_command_class") for a in bash), bash
    models = [get(line, "gen_ai.request.model") for line in spans]
    assert any("[REDACTED:github_token]" in str(model) for model in models), models


@pytest.fixture(scope="module")
def versions() -> dict[str, Path]:
    exact = [resolve_version(version) for version in chosen_versions()]
    return {version: ensure_claude_code(version=version) for version in exact}


def _cases() -> list[Any]:
    """Every (version, mode, protocol) under ``nox -s leaks``; one of them, the pin's session
    with a joining ``ci exec`` (the most ground per second, ~25 s), in the default suite."""
    cases = []
    for index in range(len(chosen_versions())):
        for mode in ("exec", "session"):
            for protocol in ("http/protobuf", "grpc"):
                sample = (index, mode, protocol) == (0, "session", "grpc")
                marks = pytest.mark.leak_sample if sample else pytest.mark.leaks
                cases.append(
                    pytest.param(
                        index, mode, protocol, id=f"v{index}-{mode}-{protocol}", marks=marks
                    )
                )
    return cases


CASES = _cases()


@pytest.mark.timeout(JOB_LIMIT_S + 60)
@pytest.mark.parametrize(("index", "mode", "protocol"), CASES)
async def test_no_planted_secret_reaches_any_artifact(
    versions: dict[str, Path], tmp_path: Path, index: int, mode: str, protocol: str
) -> None:
    version, binary = list(versions.items())[index]
    # Session mode over gRPC runs the agent step through a joining `ci exec`.
    campaign = build_campaign(tmp_path / "work", joining=mode == "session" and protocol == "grpc")
    spec = LeakSpec(
        binary=str(binary), mode=mode, protocol=protocol, root=str(tmp_path), **campaign.spec_parts
    )
    job = await run_process(
        in_namespace_command(write_spec(spec), Path(__file__).with_name("leak_job.py")),
        {"PATH": "/usr/bin:/bin"},
        tmp_path,
        JOB_LIMIT_S,
    )
    assert job.returncode == 0, job.describe()
    outcome = json.loads((tmp_path / "outcome.json").read_text(encoding="utf-8"))
    if os.geteuid() == 0:
        assert outcome["interfaces"] == ["lo"], outcome["interfaces"]  # unshare -n
    failed = [step for step in outcome["steps"] if step["returncode"] != 0]
    steps = tmp_path / "collected" / "steps"
    assert not failed, (failed, {p.name: p.read_text()[-2000:] for p in steps.iterdir()})
    result = json.loads(sorted(steps.glob("*.stdout"))[-1].read_text().strip().splitlines()[-1])
    assert result["validation"]["status"] == "ok", result["validation"]
    assert [u["status"] for u in result["uploads"]] == ["ok"] * len(result["uploads"])
    assert result["forwards"] and all(f["status"] == "ok" for f in result["forwards"])

    artifacts = artifacts_of(tmp_path)
    assert outcome["uploaded_objects"] >= 2, outcome
    assert any(name.startswith("collected/forwarded/") for name in artifacts)
    # The state files were grepped while the run was live (they are gone at its end).
    snapshots = (
        ["during-exec.json"]
        if mode == "exec"
        else [f"{phase}-{name}" for phase in ("after-start", "after-agent") for name in STATE]
    )
    assert all(f"collected/state/{name}" in artifacts for name in snapshots), sorted(artifacts)
    verdict = judge(campaign, artifacts)
    print(
        f"\nleak campaign (claude {version}, {mode}, {protocol}): "
        f"{len(campaign.secrets)} planted values x {len(artifacts)} artifacts, "
        f"{len(verdict.leaked)} leaked; evasions survived "
        f"{len({how for how, _ in verdict.evasions_survived})} of {len(campaign.evasions)}: "
        f"{sorted({how for how, _ in verdict.evasions_survived})}; "
        f"the job's own {' and '.join(PASSED_THROUGH)} only in their own fields of "
        f"{len(verdict.passthrough_fields)} state/env files; "
        f"job {outcome['seconds']:.1f}s (set-up {outcome['setup_seconds']:.1f}s, "
        f"steps {sum(step['seconds'] for step in outcome['steps']):.1f}s)"
    )
    show(campaign, verdict, artifacts)
    lines = of_run(load_runtime(tmp_path / "beacon" / "runtime.jsonl"), result["session_id"])
    check_reached_telemetry(lines, version)
    assert not verdict.leaked, verdict.leaked
    assert not [hit for hit in verdict.evasions_survived if hit[0] in UNDONE_EVASIONS]


def test_the_grep_leaves_out_only_the_jobs_own_variables_in_their_own_fields() -> None:
    """The campaign's judge (pure, in the default suite): a passed-through value in its
    own field is allowed; the same value anywhere else, and a secret-named variable's
    value anywhere at all, is a leak."""
    resource, vendor, env_value = "AKIA" + "Q" * 16, opaque_secret(), opaque_secret()
    campaign = Campaign(
        secrets={"aws_access_key": resource, "job's OTLP header": vendor, "env:X": env_value},
        passthrough=(resource, vendor),
        evasions={"split": ("ghp_abc", "def")},
    )
    state = {
        "token": "beacon-own",
        "exports": {"OTEL_RESOURCE_ATTRIBUTES": f"k={resource}"},
        "previous": {"OTEL_EXPORTER_OTLP_HEADERS": f"x={vendor}"},
        "original_destination": {"OTEL_EXPORTER_OTLP_HEADERS": f"x={vendor}"},
    }
    github_env = f"OTEL_RESOURCE_ATTRIBUTES<<EOF\nk={resource}\nEOF\nOTHER=1\n"
    clean = {
        "collected/state/after-start-session.json": json.dumps(state),
        "collected/state/after-start-session.env": f"export OTEL_RESOURCE_ATTRIBUTES=k={resource}",
        "collected/github/GITHUB_ENV": github_env,
        "beacon/runtime.jsonl": "[REDACTED:aws_access_key] ghp_abc and def",
    }
    verdict = judge(campaign, clean)
    assert verdict.leaked == []
    assert len(verdict.passthrough_fields) == 3
    assert verdict.evasions_survived == [("split", "beacon/runtime.jsonl")]

    leaky = {
        # the job's value under another field, a secret-named value in a state file,
        # the passed-through value in an ordinary artifact
        "collected/state/after-start-session.json": json.dumps(
            {**state, "note": vendor, "previous": {"DEPLOY": env_value}}
        ),
        "collected/github/GITHUB_ENV": github_env + f"OTHER<<EOF\n{resource}\nEOF\n",
        "beacon/report.md": f"key {resource}",
    }
    assert sorted(judge(campaign, leaky).leaked) == [
        ("aws_access_key", "beacon/report.md"),
        ("aws_access_key", "collected/github/GITHUB_ENV"),
        ("env:X", "collected/state/after-start-session.json"),
        ("job's OTLP header", "collected/state/after-start-session.json"),
    ]
