"""Install the pinned npm packages the end-to-end tests drive, into a cache outside the repo.

Two installs live in the cache, each in a directory named after what it holds so a pin
bump never reuses a stale tree:

* ``claude-code-<version>/`` -- the real ``@anthropic-ai/claude-code`` CLI, one tree per
  version (~235 MB; a native binary at ``node_modules/.bin/claude`` that needs no node at
  run time): the default pin ``CLAUDE_CODE_VERSION`` and the oldest supported version
  ``CLAUDE_CODE_FLOOR``;
* ``node-otel-<hash of package-lock.json>/`` -- the Node OpenTelemetry SDK client of
  ``tests/e2e/node`` installed with ``npm ci``.

Every install goes into a temporary sibling directory first and is renamed into place only
after it checked out, so an interrupted install is never mistaken for a good one. A lock
file serialises concurrent installers (two pytest sessions, or nox pre-installing while a
test runs). npm failures raise :class:`NpmInstallError` carrying npm's stderr: the tests
must fail loudly, never skip.

Bumping the Claude Code pin: change ``CLAUDE_CODE_VERSION`` below, run
``python tests/e2e/claude_install.py`` once, then run the e2e suite and update
``docs/claude-code.md`` with whatever changed (see the "Bumping the pin" section there).
``BEACON_CLAUDE_VERSIONS`` (comma-separated; ``latest`` resolves to what npm serves as
newest) chooses the versions the e2e suite runs; by default the pin and the floor.

Command line (used by CI / nox to pre-install)::

    python tests/e2e/claude_install.py            # pin + floor (or $BEACON_CLAUDE_VERSIONS)
    python tests/e2e/claude_install.py --version 2.1.197 --version latest
    python tests/e2e/claude_install.py --node     # prints the node client directory
    python tests/e2e/claude_install.py --agent gemini-cli --agent codex-cli
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# The one place the Claude Code versions are pinned. docs/claude-code.md was measured on them.
CLAUDE_CODE_VERSION = "2.1.332"  # the default pin: the newest measured
CLAUDE_CODE_FLOOR = "2.1.197"  # the oldest supported version
CLAUDE_CODE_VERSIONS = (CLAUDE_CODE_VERSION, CLAUDE_CODE_FLOOR)
VERSIONS_VARIABLE = "BEACON_CLAUDE_VERSIONS"
CLAUDE_CODE_PACKAGE = "@anthropic-ai/claude-code"

NODE_CLIENT_SOURCE = Path(__file__).resolve().parent / "node"
NODE_CLIENT_FILES = ("package.json", "package-lock.json", "emit.mjs")

NPM_TIMEOUT_S = 900.0
VERSION_CHECK_TIMEOUT_S = 60.0


class NpmInstallError(RuntimeError):
    """npm (or the installed result) failed; the message carries npm's own output."""


def cache_root(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("BEACON_TEST_CACHE")
    root = Path(configured) if configured else Path.home() / ".cache" / "beacon-tests"
    return root.expanduser().resolve()


def claude_install_dir(root: Path | None = None, version: str = CLAUDE_CODE_VERSION) -> Path:
    return (root or cache_root()) / f"claude-code-{version}"


def is_exact_version(version: str) -> bool:
    parts = version.split(".")
    return len(parts) == 3 and all(part.isdigit() for part in parts)


def resolve_version(version: str) -> str:
    """``latest`` (or any npm tag) -> the exact version npm serves for it; exact ones as given."""
    if is_exact_version(version):
        return version
    npm = shutil.which("npm")
    if npm is None:
        raise NpmInstallError("npm is not on PATH; the e2e tests need node + npm to install")
    try:
        completed = subprocess.run(
            [npm, "view", f"{CLAUDE_CODE_PACKAGE}@{version}", "version"],
            capture_output=True,
            text=True,
            timeout=VERSION_CHECK_TIMEOUT_S,
            check=False,
            env={**os.environ, "NPM_CONFIG_UPDATE_NOTIFIER": "false"},
        )
    except subprocess.TimeoutExpired as exc:
        raise NpmInstallError(f"npm view {version} timed out") from exc
    resolved = completed.stdout.strip().splitlines()[-1:] if completed.returncode == 0 else []
    if not resolved or not is_exact_version(resolved[0]):
        raise NpmInstallError(
            f"npm view {CLAUDE_CODE_PACKAGE}@{version} gave no version: "
            f"{completed.stderr.strip()} {completed.stdout.strip()}"
        )
    return resolved[0]


def chosen_versions(environ: os._Environ[str] | dict[str, str] | None = None) -> tuple[str, ...]:
    """The Claude Code versions the e2e suite runs: ``$BEACON_CLAUDE_VERSIONS`` or pin + floor."""
    env = os.environ if environ is None else environ
    configured = [v.strip() for v in env.get(VERSIONS_VARIABLE, "").split(",") if v.strip()]
    return tuple(configured) if configured else CLAUDE_CODE_VERSIONS


def claude_binary(install_dir: Path) -> Path:
    return install_dir / "node_modules" / ".bin" / "claude"


@contextlib.contextmanager
def _install_lock(root: Path, name: str) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_npm(args: list[str], cwd: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise NpmInstallError("npm is not on PATH; the e2e tests need node + npm to install")
    try:
        completed = subprocess.run(
            [npm, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
            # npm's own update check and funding banners are network noise we do not want.
            env={**os.environ, "NPM_CONFIG_UPDATE_NOTIFIER": "false", "NPM_CONFIG_FUND": "false"},
        )
    except subprocess.TimeoutExpired as exc:
        raise NpmInstallError(f"npm {' '.join(args)} timed out after {NPM_TIMEOUT_S}s") from exc
    if completed.returncode != 0:
        raise NpmInstallError(
            f"npm {' '.join(args)} failed with exit code {completed.returncode}:\n"
            f"{completed.stderr.strip()}\n{completed.stdout.strip()}"
        )


def _claude_version_ok(binary: Path, version: str) -> str | None:
    """Return why the binary is unusable, or None when it reports ``version``."""
    if not binary.exists():
        return f"{binary} does not exist"
    try:
        completed = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_CHECK_TIMEOUT_S,
            check=False,
            env={**os.environ, "DISABLE_AUTOUPDATER": "1"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{binary} --version could not run: {exc}"
    if completed.returncode != 0 or version not in completed.stdout.split():
        return (
            f"{binary} --version exited {completed.returncode} with "
            f"{completed.stdout.strip()!r} {completed.stderr.strip()!r}"
        )
    return None


def _atomic_install(
    target: Path, populate: Callable[[Path], None], check: Callable[[Path], str | None]
) -> Path:
    """Build ``target`` in a temp sibling with ``populate``; rename it in once ``check`` passes."""
    with _install_lock(target.parent, target.name):
        if target.exists() and check(target) is None:
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the install is a shared cache
        try:
            populate(staging)
            problem = check(staging)
            if problem is not None:
                raise NpmInstallError(f"install in {staging} is unusable: {problem}")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    # The install tree holds absolute symlinks into itself only via node_modules/.bin, which
    # npm writes as relative links, so the renamed tree works from its final place.
    problem = check(target)
    if problem is not None:
        raise NpmInstallError(f"install in {target} is unusable after the rename: {problem}")
    return target


def ensure_claude_code(root: Path | None = None, version: str = CLAUDE_CODE_VERSION) -> Path:
    """Return the path of the ``claude`` binary of ``version``, installing it on first use."""
    version = resolve_version(version)

    def populate(staging: Path) -> None:
        (staging / "package.json").write_text('{"name": "beacon-e2e-claude", "private": true}\n')
        _run_npm(
            [
                "install",
                "--no-audit",
                "--no-fund",
                "--save-exact",
                f"{CLAUDE_CODE_PACKAGE}@{version}",
            ],
            cwd=staging,
        )

    install_dir = _atomic_install(
        claude_install_dir(root, version),
        populate,
        lambda d: _claude_version_ok(claude_binary(d), version),
    )
    return claude_binary(install_dir)


@dataclass(frozen=True)
class AgentPackage:
    """Another agent CLI from npm, pinned: installed like Claude Code, one tree per version."""

    name: str  # the cache directory's prefix and the --agent name
    package: str
    version: str
    binary: str  # under node_modules/.bin


# The pins of the other agent CLIs. docs/gemini-cli.md and docs/codex-cli.md were measured
# on them.
GEMINI_CLI = AgentPackage("gemini-cli", "@google/gemini-cli", "0.61.0", "gemini")
CODEX_CLI = AgentPackage("codex-cli", "@openai/codex", "0.171.0", "codex")
AGENT_PACKAGES = {agent.name: agent for agent in (GEMINI_CLI, CODEX_CLI)}
# What the CLIs must not do when asked for their version: reach the network.
_QUIET_VERSION_ENV = {
    "GEMINI_CLI_NO_RELAUNCH": "true",
    "NO_UPDATE_NOTIFIER": "1",
    "CODEX_HOME": "/nonexistent-beacon-codex-home",
}


def _agent_version_ok(agent: AgentPackage, directory: Path) -> str | None:
    binary = directory / "node_modules" / ".bin" / agent.binary
    if not binary.exists():
        return f"{binary} does not exist"
    try:
        completed = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_CHECK_TIMEOUT_S,
            check=False,
            env={**os.environ, **_QUIET_VERSION_ENV},
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{binary} --version could not run: {exc}"
    if completed.returncode != 0 or agent.version not in completed.stdout:
        return (
            f"{binary} --version exited {completed.returncode} with "
            f"{completed.stdout.strip()!r} {completed.stderr.strip()!r}"
        )
    return None


def ensure_agent(agent: AgentPackage, root: Path | None = None) -> Path:
    """The path of ``agent``'s binary, installed on first use (npm, into the test cache)."""

    def populate(staging: Path) -> None:
        (staging / "package.json").write_text('{"name": "beacon-e2e-agent", "private": true}\n')
        _run_npm(
            [
                "install",
                "--no-audit",
                "--no-fund",
                "--save-exact",
                f"{agent.package}@{agent.version}",
            ],
            cwd=staging,
        )

    target = (root or cache_root()) / f"{agent.name}-{agent.version}"
    install_dir = _atomic_install(target, populate, lambda d: _agent_version_ok(agent, d))
    return install_dir / "node_modules" / ".bin" / agent.binary


def _node_client_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((NODE_CLIENT_SOURCE / name).read_bytes())
    return digest.hexdigest()[:16]


def ensure_node_client(root: Path | None = None) -> Path:
    """Return a directory holding the Node OTel client script with its node_modules.

    The install is keyed by the lock file; the script itself is re-copied on every call so
    editing it needs no reinstall.
    """

    def populate(staging: Path) -> None:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(NODE_CLIENT_SOURCE / name, staging / name)
        _run_npm(["ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=staging)

    def check(directory: Path) -> str | None:
        marker = directory / "node_modules" / "@opentelemetry" / "sdk-logs" / "package.json"
        return None if marker.exists() else f"{marker} is missing"

    target = (root or cache_root()) / f"node-otel-{_node_client_digest()}"
    install_dir = _atomic_install(target, populate, check)
    for name in NODE_CLIENT_FILES:
        if name.endswith((".mjs", ".js")):
            shutil.copy2(NODE_CLIENT_SOURCE / name, install_dir / name)
    return install_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--node", action="store_true", help="install the Node OTel client and print its directory"
    )
    parser.add_argument(
        "--agent",
        choices=sorted(AGENT_PACKAGES),
        action="append",
        default=[],
        help="install another pinned agent CLI (repeatable) and print its binary",
    )
    parser.add_argument(
        "--version",
        action="append",
        dest="versions",
        help="a Claude Code version or npm tag to install (repeatable; default: the pin and "
        f"the floor, or ${VERSIONS_VARIABLE})",
    )
    args = parser.parse_args(argv)
    try:
        if args.node:
            paths = [ensure_node_client()]
        elif args.agent:
            paths = [ensure_agent(AGENT_PACKAGES[name]) for name in args.agent]
        else:
            paths = [ensure_claude_code(version=v) for v in args.versions or chosen_versions()]
    except NpmInstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
