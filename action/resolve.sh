#!/usr/bin/env bash
# The action's first step: which mode, whether Python must be set up, the artifact name.
# Inputs arrive as environment variables (never interpolated into this script).
set -euo pipefail

mode="${INPUT_MODE:-}"
command="${INPUT_COMMAND:-}"
if [[ -z "$mode" ]]; then
  case "$command" in
    start | stop | finish)
      # The action's first interface: `command: start|stop` and no mode.
      echo "::warning::beacon: \`command: $command\` without \`mode\` is deprecated; use \`mode: $command\`"
      mode="$command"
      ;;
    "")
      echo "::warning::beacon: no mode and no command: starting a session as before; set \`mode: start\` (or \`mode: exec\` with a command)"
      mode="start"
      ;;
    *) mode="exec" ;;
  esac
fi
case "$mode" in
  exec | start | finish) ;;
  stop) mode="finish" ;;
  *)
    echo "::error::beacon: unknown mode '$mode' (use exec, start or finish)"
    exit 2
    ;;
esac
if [[ "$mode" == exec && -z "$command" ]]; then
  echo "::error::beacon: mode exec needs a command"
  exit 2
fi

# Python 3.11+ for beacon's private venv: the runner's own when it is new enough.
needs_python=true
if command -v python3 >/dev/null &&
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  needs_python=false
fi

# upload-artifact rejects a name used twice in one run: matrix legs share the
# job id, re-runs share everything but the attempt.
artifact_name="${INPUT_ARTIFACT_NAME:-}"
if [[ -z "$artifact_name" ]]; then
  artifact_name="beacon-${GITHUB_JOB:-job}"
  if [[ -n "${JOB_INDEX:-}" ]]; then
    artifact_name="$artifact_name-${JOB_INDEX}"
  fi
  artifact_name="$artifact_name-attempt${GITHUB_RUN_ATTEMPT:-1}"
fi

# A cache key for pip's downloads when beacon comes from a requirement: its
# hash, since a requirement may hold commas, which cache keys may not.
cache_key=""
if [[ -n "${INPUT_VERSION:-}" ]]; then
  cache_key="beacon-pip-$(printf '%s' "$INPUT_VERSION" | sha256sum | cut -c1-16)"
fi

{
  echo "mode=$mode"
  echo "cache-key=$cache_key"
  echo "needs-python=$needs_python"
  echo "artifact-name=$artifact_name"
} >>"$GITHUB_OUTPUT"
