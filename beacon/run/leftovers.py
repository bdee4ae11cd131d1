"""Process the spools that dead runs left behind, each under its own session id.

A session daemon killed, or a ``ci exec`` killed before its finish, leaves its
spool in the base dir; the next collector there renames it aside
(``spool/otlp.jsonl.<stamp>``). The next ``ci exec`` or ``session stop`` calls
:func:`recover_set_aside` before its own finish: every such spool goes through
the pipeline once, under the session id its lifecycle records name, and is
then deleted. A spool that cannot be processed is kept and named in the output.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from beacon.agents.harnesses import Harness
from beacon.config import FinishSettings
from beacon.paths import ArtifactPaths
from beacon.run.finish import RunOutcome, pipeline_validation
from beacon.run.ledger import read_ledger
from beacon.run.spools import set_aside_spools, spool_session_id


def recover_set_aside(
    paths: ArtifactPaths,
    *,
    harnesses: tuple[Harness, ...],
    settings: FinishSettings,
    environ: Mapping[str, str],
    tokens: Mapping[str, str],
    leave: Mapping[str, str] | None = None,
    exclude: Collection[Path] = (),
    defer: bool = False,
) -> list[dict[str, Any]]:
    """Process every set-aside spool; one entry per spool for ``result.json`` ``recovered``.

    ``tokens``: collector tokens by session id (redacted if an agent printed one).
    ``leave``: session id -> who processes that spool instead (a dead session's
    spool is left to its ``session stop``, which holds its state).
    ``exclude``: spools the caller processes itself.
    ``defer``: process none now (a cancelled run must write its own log inside the
    runner's window), only name them for the next run.
    """
    ledger = read_ledger(paths)
    done = ledger.done
    entries: list[dict[str, Any]] = []
    for spool in set_aside_spools(paths):
        if spool in exclude:
            continue
        session_id = spool_session_id(spool)
        if session_id is not None and session_id in done:
            if session_id not in ledger.kept:
                # Its lines are in runtime.jsonl; its run was stopped before it deleted it.
                entries.append(_delete_processed(spool, session_id))
            continue  # processed already, kept on purpose (--keep-spool, failed validation)
        left_for = None
        if session_id is not None and leave and session_id in leave:
            left_for = leave[session_id]
        elif defer:
            left_for = "the next `beacon ci exec` or `session stop` in this base dir"
        if left_for is not None:
            entries.append(
                {"session_id": session_id or "?", "spool_path": str(spool), "left_for": left_for}
            )
            continue
        entries.append(_process(spool, session_id, paths, harnesses, settings, environ, tokens))
        done.add(entries[-1]["session_id"])
    return entries


def _process(
    spool: Path,
    session_id: str | None,
    paths: ArtifactPaths,
    harnesses: tuple[Harness, ...],
    settings: FinishSettings,
    environ: Mapping[str, str],
    tokens: Mapping[str, str],
) -> dict[str, Any]:
    # A spool without beacon's records (it died before its first write) still
    # gets a run of its own rather than being folded into another.
    session = session_id or uuid.uuid4().hex
    entry: dict[str, Any] = {"session_id": session, "spool_path": str(spool)}
    try:
        processed = pipeline_validation(
            paths=paths,
            outcome=RunOutcome(session_id=session, collector_token=tokens.get(session)),
            harnesses=harnesses,
            settings=settings,
            environ=environ,
            spool_path=spool,
            may_keep=False,
        )
    except Exception as exc:  # kept and named: never a crash, never a silent loss
        entry["error"] = str(exc)
        return entry
    entry["events_written"] = processed.events_written
    entry["validation_status"] = processed.validation.get("status")
    if processed.warnings:
        entry["warnings"] = processed.warnings
    # Its lines are in runtime.jsonl now (the ledger says so): the raw copy goes.
    with contextlib.suppress(FileNotFoundError):
        spool.unlink()
    return entry


def _delete_processed(spool: Path, session_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "session_id": session_id,
        "spool_path": str(spool),
        "already_processed": True,
    }
    try:
        spool.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        entry["error"] = f"already processed, but cannot be deleted: {exc.strerror or exc}"
    return entry


def known_tokens(paths: ArtifactPaths) -> dict[str, str]:
    """Collector tokens of the runs whose state files are still in the base dir."""
    from beacon.run.exec import exec_state
    from beacon.run.state import load_state

    tokens: dict[str, str] = {}
    with contextlib.suppress(Exception):
        for state in (exec_state(paths), load_state(paths)):
            if state is not None and state.token:
                tokens[state.session_id] = state.token
    return tokens
