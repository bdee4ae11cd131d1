"""``session.json``: what a running session daemon left for later steps.

Pure data plus liveness checks; no sockets beyond the small, bounded HTTP
requests to the daemon's own status endpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beacon.agents.harnesses import Switches
from beacon.clock import utc_iso
from beacon.config import DEFAULT_DRAIN_MAX_S
from beacon.errors import BeaconError
from beacon.paths import ArtifactPaths

if TYPE_CHECKING:
    from beacon.config import CaptureSettings

STATE_VERSION = 1


@dataclass(frozen=True)
class SessionState:
    session_id: str
    pid: int
    token: str
    protocol: str
    receivers: list[str]
    harnesses: list[str]
    endpoints: dict[str, str]
    status_url: str
    started_at: str
    started_unix: float
    """``time.time()`` at start, for the uptime."""
    base_dir: str
    log_path: str
    spool_path: str
    exports: dict[str, str]
    """Every variable the session exports to later steps."""
    previous: dict[str, str] = field(default_factory=dict)
    """The job's values of those variables before start ("" where unset): restored by stop."""
    original_destination: dict[str, str] = field(default_factory=dict)
    """The job's own OTLP exporter settings, for later forwarding."""
    max_duration_s: float = 0.0
    prompts: bool = True
    tool_details: bool = True
    """The content switches of the session (``--no-prompts``…): steps and stop follow them."""
    pid_start_time: int = 0
    """The process's start time (clock ticks after boot, /proc/<pid>/stat field 22):
    with the pid, it names one process; 0 when unknown."""
    secrets_token: str = ""
    """The secrets channel's credential (``beacon.run.secrets``): only here, never exported."""
    drain_max_s: float = DEFAULT_DRAIN_MAX_S
    """The daemon's ``--drain-max``: how long its stop may legitimately take, plus a grace."""
    version: int = STATE_VERSION

    @classmethod
    def begin(
        cls,
        settings: CaptureSettings,
        paths: ArtifactPaths,
        *,
        session_id: str,
        pid: int,
        token: str,
        endpoints: dict[str, str],
        status_url: str,
        exports: dict[str, str],
        previous: dict[str, str] | None = None,
        original_destination: dict[str, str] | None = None,
        max_duration_s: float = 0.0,
        secrets_token: str = "",
    ) -> SessionState:
        """The state of a collector starting now (a session daemon or a ``ci exec``).

        OTLP/HTTP is always among the receivers: an exec joining the run posts its
        lifecycle records there, whatever protocol the agents use.
        """
        started = time.time()
        return cls(
            session_id=session_id,
            pid=pid,
            token=token,
            protocol=settings.protocol,
            receivers=sorted(settings.receivers | {"http"}),
            harnesses=[h.name for h in settings.harnesses],
            endpoints=endpoints,
            status_url=status_url,
            started_at=utc_iso(started),
            started_unix=started,
            base_dir=str(paths.base_dir),
            log_path=str(paths.log_path),
            spool_path=str(paths.spool_path),
            exports=exports,
            previous=previous or {},
            original_destination=original_destination or {},
            max_duration_s=max_duration_s,
            prompts=settings.switches.prompts,
            tool_details=settings.switches.tool_details,
            pid_start_time=process_start_time(pid) or 0,
            secrets_token=secrets_token,
            drain_max_s=settings.drain_max_s,
        )

    def switches(self) -> Switches:
        return Switches(prompts=self.prompts, tool_details=self.tool_details)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SessionState:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def http_base(self) -> str:
        return self.status_url.split("/beacon/", 1)[0]


def load_state(paths: ArtifactPaths) -> SessionState | None:
    """The state file, or None when there is none; a corrupt one is an error."""
    try:
        text = paths.state_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BeaconError(f"cannot read {paths.state_path}: {exc.strerror}") from exc
    try:
        return SessionState.from_mapping(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise BeaconError(
            f"session state {paths.state_path} is unreadable ({exc})",
            hint="remove it, or run `beacon ci session stop` to clean up",
        ) from exc


def process_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie.

    Where PID 1 does not reap orphans a killed daemon lingers as a zombie, so
    ``kill(pid, 0)`` alone is no proof of life.
    """
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # The state follows the parenthesised command name, which may itself hold ")".
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X", "x")


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot), or None without /proc or process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    # After the name: state is field 3, starttime field 22 (index 19 here).
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_ours(state: SessionState, *, ask: bool = True) -> bool:
    """True only when ``state.pid`` is alive AND provably the process the state names.

    A pid can be reused by an unrelated process after ours died: nothing may
    signal it on the pid's word alone. Proof is the daemon answering its
    authenticated status endpoint with this pid and session (``ask``), or the
    process's start time in /proc matching the one recorded at start.
    """
    if not process_alive(state.pid):
        return False
    started = process_start_time(state.pid)
    if state.pid_start_time and started is not None:
        return started == state.pid_start_time
    if ask:
        status = fetch_status(state)
        return (
            status is not None
            and status.get("pid") == state.pid
            and status.get("session_id") == state.session_id
        )
    return False


def request(
    state: SessionState,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    content_type: str | None = None,
    timeout_s: float = 2.0,
) -> bytes:
    """A bounded request to the daemon's HTTP app, with the session token."""
    import urllib.request  # ~10 ms: only when a session is actually there

    headers = {"authorization": f"Bearer {state.token}"}
    if content_type:
        headers["content-type"] = content_type
    req = urllib.request.Request(  # noqa: S310 - URL is our own loopback endpoint
        state.http_base + path, data=body, method=method, headers=headers
    )
    with urllib.request.urlopen(req, timeout=timeout_s) as response:  # noqa: S310
        payload: bytes = response.read()
        return payload


def fetch_status(state: SessionState, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """The daemon's status document, or None when it does not answer."""
    try:
        data = json.loads(request(state, "/beacon/status", timeout_s=timeout_s))
    except (OSError, ValueError):  # URLError and HTTPError are OSErrors
        return None
    return data if isinstance(data, dict) else None


def session_alive(state: SessionState) -> bool:
    return is_ours(state) and fetch_status(state) is not None


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    """Wait until ``pid`` (not our child) has exited; True when it did in time."""
    deadline = time.monotonic() + timeout_s
    pidfd: int | None = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(pid)
    if pidfd is not None:
        import select

        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            # Readable once the process has terminated (zombie or reaped).
            while time.monotonic() < deadline:
                if poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
                    return True
            return not process_alive(pid)
        finally:
            os.close(pidfd)
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.02)  # only without pidfd (pre-5.3 kernels)
    return not process_alive(pid)


def remove_state(paths: ArtifactPaths) -> None:
    for path in (paths.state_path, paths.env_path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
