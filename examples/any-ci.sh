#!/usr/bin/env bash
# beacon in any CI system (or none): run one command with its telemetry captured.
#
#   examples/any-ci.sh [BEACON OPTIONS] -- CMD [ARGS...]
#   examples/any-ci.sh --require-action command.executed -- claude -p "fix the test"
#
# Uses `beacon` from PATH; otherwise installs $BEACON_REQUIREMENT (a pip
# requirement: a path to a checkout, a git URL, a wheel) into a private venv
# so the job's own Python packages are left alone. runtime.jsonl and
# result.json land in $BEACON_CI_BASE_DIR (default: ./.beacon), which the CI
# system should keep as an artifact; the raw spool stays in its spool/ folder
# and is deleted after a successful run: do not upload that folder.
# Exits with beacon's exit code: the command's own when it failed.
set -euo pipefail

export BEACON_CI_BASE_DIR="${BEACON_CI_BASE_DIR:-$PWD/.beacon}"

beacon="$(command -v beacon || true)"
if [[ -z "$beacon" ]]; then
  venv="${BEACON_VENV:-${TMPDIR:-/tmp}/beacon-venv}"
  if [[ ! -x "$venv/bin/beacon" ]]; then
    requirement="${BEACON_REQUIREMENT:?set BEACON_REQUIREMENT to a pip requirement for beacon}"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
  fi
  beacon="$venv/bin/beacon"
fi

code=0
"$beacon" ci exec "$@" || code=$?
echo "beacon: exit $code; runtime.jsonl and result.json are in $BEACON_CI_BASE_DIR" >&2
exit "$code"
