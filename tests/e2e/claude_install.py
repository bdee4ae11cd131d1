"""Install the pinned npm packages the end-to-end tests drive, into a cache outside the repo.

Two installs live in the cache, each in a directory named after what it holds so a pin
bump never reuses a stale tree:

* ``claude-code-<CLAUDE_CODE_VERSION>/`` -- the real ``@anthropic-ai/claude-code`` CLI
  (~235 MB; a native binary at ``node_modules/.bin/claude`` that needs no node at run time);
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

Command line (used by CI / nox to pre-install)::

    python tests/e2e/claude_install.py            # prints the claude binary path
    python tests/e2e/claude_install.py --node     # prints the node client directory
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
from pathlib import Path

# The one place the Claude Code version is pinned. docs/claude-code.md was measured on it.
CLAUDE_CODE_VERSION = "2.1.197"
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


def claude_install_dir(root: Path | None = None) -> Path:
    return (root or cache_root()) / f"claude-code-{CLAUDE_CODE_VERSION}"


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


def _claude_version_ok(binary: Path) -> str | None:
    """Return why the binary is unusable, or None when it reports the pinned version."""
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
    if completed.returncode != 0 or CLAUDE_CODE_VERSION not in completed.stdout:
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


def ensure_claude_code(root: Path | None = None) -> Path:
    """Return the path of the pinned ``claude`` binary, installing it on first use."""

    def populate(staging: Path) -> None:
        (staging / "package.json").write_text('{"name": "beacon-e2e-claude", "private": true}\n')
        _run_npm(
            [
                "install",
                "--no-audit",
                "--no-fund",
                "--save-exact",
                f"{CLAUDE_CODE_PACKAGE}@{CLAUDE_CODE_VERSION}",
            ],
            cwd=staging,
        )

    install_dir = _atomic_install(
        claude_install_dir(root), populate, lambda d: _claude_version_ok(claude_binary(d))
    )
    return claude_binary(install_dir)


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
    args = parser.parse_args(argv)
    try:
        path = ensure_node_client() if args.node else ensure_claude_code()
    except NpmInstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
