"""The prompt argument of a known agent CLI, masked for ``--no-prompts`` (pure, as data).

beacon records the child's argv in its own ``child.started`` record. ``claude -p "<prompt>"``,
``codex exec "<prompt>"`` and ``gemini -p "<prompt>"`` carry the prompt there, so with
prompts off every argument that may be a prompt is replaced by a marker giving its length.
When in doubt an argument is masked: an unknown option's value is masked too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AgentCli:
    programs: tuple[str, ...]
    """Executable names (the basename of argv[0])."""
    headless: tuple[str, ...]
    """Flags or a subcommand (``exec``) that make the run take a prompt argument."""
    prompt_options: tuple[str, ...]
    """Options whose value is prompt text."""
    value_options: tuple[str, ...]
    """Other options that take a value (kept as written)."""
    subcommand: bool = False
    """``headless`` is a subcommand (the first positional), not a flag."""


CLAUDE = AgentCli(
    programs=("claude",),
    headless=("-p", "--print"),
    prompt_options=("--system-prompt", "--append-system-prompt"),
    value_options=(
        "--allowedTools",
        "--allowed-tools",
        "--disallowedTools",
        "--disallowed-tools",
        "--tools",
        "--model",
        "--fallback-model",
        "--mcp-config",
        "--output-format",
        "--input-format",
        "--permission-mode",
        "--permission-prompt-tool",
        "--max-turns",
        "--resume",
        "-r",
        "--session-id",
        "--settings",
        "--setting-sources",
        "--add-dir",
        "--agents",
        "--plugin-dir",
    ),
)
CODEX = AgentCli(
    programs=("codex",),
    headless=("exec", "e"),
    prompt_options=(),
    value_options=(
        "-m",
        "--model",
        "-c",
        "--config",
        "-C",
        "--cd",
        "-s",
        "--sandbox",
        "-p",
        "--profile",
        "-i",
        "--image",
        "-o",
        "--output-last-message",
        "--output-schema",
        "--color",
        "--add-dir",
        "--enable",
        "--disable",
    ),
    subcommand=True,
)
GEMINI = AgentCli(
    programs=("gemini",),
    headless=("-p", "--prompt", "-i", "--prompt-interactive"),
    prompt_options=("-p", "--prompt", "-i", "--prompt-interactive"),
    value_options=(
        "-m",
        "--model",
        "--approval-mode",
        "-e",
        "--extensions",
        "--include-directories",
        "-o",
        "--output-format",
        "--allowed-tools",
        "--allowed-mcp-server-names",
        "--telemetry-target",
        "--telemetry-otlp-endpoint",
        "--telemetry-otlp-protocol",
        "--telemetry-outfile",
        "--proxy",
        "-r",
        "--resume",
    ),
)
AGENT_CLIS = (CLAUDE, CODEX, GEMINI)


def prompt_marker(text: str) -> str:
    return f"<prompt withheld: {len(text)} chars>"


def _program(argv0: str) -> str:
    return argv0.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".exe").removesuffix(".js")


def _agent_of(argv: Sequence[str]) -> tuple[AgentCli, int] | None:
    """The agent CLI ``argv`` runs and the index of its program (``npx`` / ``node`` skipped)."""
    for index, arg in enumerate(argv[:3]):
        name = _program(arg)
        for cli in AGENT_CLIS:
            if name in cli.programs:
                return cli, index
    return None


def _is_headless(cli: AgentCli, args: Sequence[str]) -> bool:
    if cli.subcommand:
        skip = False
        for arg in args:
            if skip:
                skip = False
            elif arg in cli.value_options:
                skip = True
            elif not arg.startswith("-"):
                return arg in cli.headless
        return False
    return any(arg in cli.headless or arg.split("=", 1)[0] in cli.headless for arg in args)


def mask_prompts(argv: Sequence[str]) -> list[str]:
    """``argv`` with every prompt argument of a known headless agent CLI masked."""
    found = _agent_of(argv)
    if found is None:
        return list(argv)
    cli, index = found
    head, args = list(argv[: index + 1]), list(argv[index + 1 :])
    if not _is_headless(cli, args):
        return list(argv)
    masked: list[str] = []
    expect_value: str | None = None  # "keep" or "mask" for the next argument
    subcommand_seen = not cli.subcommand
    rest_positional = False
    for arg in args:
        if expect_value is not None:
            masked.append(arg if expect_value == "keep" else prompt_marker(arg))
            expect_value = None
        elif rest_positional or not arg.startswith("-") or arg == "-":
            if not subcommand_seen and arg in cli.headless:
                subcommand_seen = True
                masked.append(arg)
            else:
                masked.append(prompt_marker(arg))
        elif arg == "--":
            rest_positional = True
            masked.append(arg)
        elif "=" in arg:
            name, value = arg.split("=", 1)
            prompt_like = name in cli.prompt_options
            masked.append(f"{name}={prompt_marker(value)}" if prompt_like else arg)
        elif arg in cli.prompt_options:
            masked.append(arg)
            expect_value = "mask"
        elif arg in cli.value_options:
            masked.append(arg)
            expect_value = "keep"
        else:
            masked.append(arg)
    return head + masked
