#!/usr/bin/env bash
# Install beacon (non-editable) into a private venv; only `beacon` goes on PATH,
# so later steps keep the job's own python. A second use in the same job with
# the same requirement reuses the venv.
set -euo pipefail

spec="${BEACON_SPEC:?BEACON_SPEC: a pip requirement or a path}"
python="${BEACON_PYTHON:-python3}"
venv="$RUNNER_TEMP/beacon-venv"
bin_dir="$RUNNER_TEMP/beacon-bin"
marker="$venv/.beacon-requirement"

if [[ -x "$venv/bin/beacon" && -f "$marker" && "$(cat "$marker")" == "$spec" ]]; then
  echo "beacon: already installed from $spec"
else
  rm -rf "$venv"
  if [[ -n "${BEACON_PIP_CACHE:-}" ]]; then
    # The action's cache step restores this folder and saves it after the job.
    export PIP_CACHE_DIR="$BEACON_PIP_CACHE"
  fi
  "$python" -m venv "$venv"
  # No -e: users get what the wheel ships (schema, rule packs, report assets).
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "$spec"
  printf '%s' "$spec" >"$marker"
fi
mkdir -p "$bin_dir"
ln -sf "$venv/bin/beacon" "$bin_dir/beacon"
echo "$bin_dir" >>"$GITHUB_PATH"
"$bin_dir/beacon" --version
