"""Fleet errors: bad usage exits 2, a source beacon cannot read exits 5."""

from __future__ import annotations

from beacon.errors import BeaconError, ExitCode


class FleetAccessError(BeaconError):
    """The source cannot be read: no such bucket or directory, no credentials, unreachable."""

    exit_code = ExitCode.BEACON_FAILED
