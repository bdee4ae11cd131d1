"""The leak campaign with the real client (nox -s leaks): plant a value of every redaction
family where Claude Code exports it, run it under ``beacon ci exec``, grep every artifact.

Planted: one realistic value per family (tests/pipeline/secret_strategies.py)
in the prompt and in a Bash command (so in the command, its output and the
tool's parameters), one in a file path, a secret-named environment variable
whose value the prompt repeats, and one in a resource attribute
(OTEL_RESOURCE_ATTRIBUTES). Evasions: a value URL-encoded, base64-wrapped and
inside ANSI escapes. Every file beacon leaves in the base dir and its own
stdout/stderr are searched for every planted value.
"""

from __future__ import annotations

import base64
import urllib.parse
import warnings
from pathlib import Path

import pytest
from hypothesis.errors import NonInteractiveExampleWarning
from pipeline.secret_strategies import FAMILIES

from e2e.beacon_cli import beacon_exec, job_dirs
from e2e.claude_runner import hermetic_env
from e2e.messages_stub import MessagesStub
from e2e.scenarios import Scenario, Script, Text, ToolUse, fake_github_token

# Spread over text that Claude Code exports more than once (prompt and prompt_text
# in newer versions), bash commands and tool parameters.
MULTILINE = {"private_key", "google_service_account"}


def planted_values() -> dict[str, tuple[str, str]]:
    """family -> (the text to plant, the secret inside it): fresh random values each run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        return {family: strategy.example() for family, strategy in FAMILIES.items()}


def leak_scenario(
    work: Path, plants: dict[str, tuple[str, str]], env_secret: str, evasive: list[str]
) -> Scenario:
    one_line = [text for family, (text, _) in plants.items() if family not in MULTILINE]
    prompt = "Deploy with these: " + " ; ".join(text for text, _ in plants.values())
    prompt += f" and the value of DEPLOY_API_TOKEN ({env_secret}) " + " ".join(evasive)
    command = "echo " + " ".join(f"'{text}'" for text in one_line)
    github = plants["github_token"][1]
    return Scenario(
        Script(
            "leak",
            prompt,
            [
                ToolUse("Bash", {"command": command, "description": "Print the deploy values"}),
                ToolUse(
                    "Write",
                    {"file_path": str(work / f"notes-{github}.txt"), "content": command + "\n"},
                ),
                Text("Done."),  # the child's own stdout passes through beacon untouched
            ],
            allowed_tools=("Bash", "Write"),
        ),
        planted_secret=github,
    )


def _evasions() -> dict[str, tuple[str, str]]:
    """how -> (what is planted, what must not survive), a fresh token each. Reported, not
    asserted: the families match text, so an encoding that hides a token's shape hides it."""
    ansi, query, wrapped = fake_github_token(), fake_github_token(), fake_github_token()
    assignment = "password=Qx" + fake_github_token()[4:20] + "7!"
    return {
        "ansi-wrapped token": (f"\x1b[31m{ansi}\x1b[0m", ansi),
        "token in a URL query": (f"https://x.invalid/?t={query}&u=1", query),
        "url-encoded assignment": (urllib.parse.quote(assignment, safe=""), assignment),
        "base64-wrapped token": (base64.b64encode(wrapped.encode()).decode(), wrapped),
    }


@pytest.mark.leaks
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
async def test_no_planted_secret_reaches_any_artifact(
    claude_bin: Path, stub: MessagesStub, tmp_path: Path, protocol: str
) -> None:
    home, work, base = job_dirs(tmp_path)
    plants = planted_values()
    env_secret = plants["npm_token"][1]
    resource_secret = plants["aws_access_key"][1]
    evasive = _evasions()
    scenario = leak_scenario(work, plants, env_secret, [planted for planted, _ in evasive.values()])
    stub.use(scenario.script)
    env = {
        **hermetic_env(home, stub.base_url),
        "DEPLOY_API_TOKEN": env_secret,
        "OTEL_RESOURCE_ATTRIBUTES": f"deploy.key={resource_secret}",
    }
    run = await beacon_exec(
        [str(claude_bin), *scenario.claude_args()],
        protocol=protocol,
        base_dir=base,
        env=env,
        cwd=work,
    )
    assert run.process.returncode == 0, run.process.describe()
    runtime = run.runtime_path.read_text(encoding="utf-8")
    assert "[REDACTED" in runtime  # the plants did reach the telemetry
    artifacts = {
        str(path.relative_to(base)): path.read_bytes().decode("utf-8", "replace")
        for path in sorted(base.rglob("*"))
        if path.is_file() and path.name not in ("session.json", "session.env")
    }
    artifacts["<beacon stdout>"] = run.process.stdout
    artifacts["<beacon stderr>"] = run.process.stderr
    secrets = {family: secret for family, (_, secret) in plants.items()}
    secrets["env:DEPLOY_API_TOKEN"] = env_secret
    leaked = [
        (family, name)
        for family, secret in secrets.items()
        for name, text in artifacts.items()
        if secret in text
    ]
    evasions_leaked = [
        (how, name)
        for how, (planted, value) in evasive.items()
        for name, text in artifacts.items()
        if value in text or (how.startswith("base64") and planted in text)
    ]
    client = next((p for p in claude_bin.parts if p.startswith("claude-code-")), "claude")
    print(
        f"\nleak campaign ({protocol}, {client}): "
        f"{len(secrets)} planted values x {len(artifacts)} artifacts, {len(leaked)} leaked; "
        f"evasions {len(evasions_leaked)} of {len(evasive)} survived: {evasions_leaked}"
    )
    for how, name in evasions_leaked:
        value = evasive[how][1] if not how.startswith("base64") else evasive[how][0]
        for line in artifacts[name].splitlines():
            if value in line:
                at = line.index(value)
                print(f"  evasion {how} survives in {name}: {line[max(at - 120, 0) : at + 50]!r}")
    for family, name in leaked:
        text, secret = artifacts[name], secrets[family]
        for line in text.splitlines():
            if secret in line:
                at = line.index(secret)
                field = line[:at].rsplit('":', 1)[0].rsplit('"', 1)[-1]
                print(f"  leaked {family} in {name}, field {field!r}: {line[at - 60 : at + 40]!r}")
    assert not leaked, leaked
