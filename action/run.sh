#!/usr/bin/env bash
# The action's main step: `ci exec`, `ci session start` or `ci session stop`,
# with the inputs turned into options. Inputs arrive as INPUT_* environment
# variables; `command` is handed to bash as one argument, never spliced into
# this script. For exec and finish the step itself succeeds and beacon's exit
# code becomes the `exit-code` output: the action's last step exits with it,
# after the artifact is uploaded.
set -euo pipefail

mode="${BEACON_MODE:?BEACON_MODE: exec, start or finish}"
beacon="${BEACON_BIN:-$RUNNER_TEMP/beacon-bin/beacon}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# "a, b" / one per line -> one item per line, blanks dropped.
items() { tr ',' '\n' <<<"${1:-}" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d'; }
is_false() { [[ "${1,,}" =~ ^(false|0|no|off)$ ]]; }

capture=()
harnesses="${INPUT_HARNESSES:-${INPUT_HARNESS:-}}"
while IFS= read -r item; do capture+=(--harness "$item"); done < <(items "$harnesses")
[[ -n "${INPUT_PROTOCOL:-}" ]] && capture+=(--protocol "$INPUT_PROTOCOL")
is_false "${INPUT_LOG_PROMPTS:-true}" && capture+=(--no-prompts)
is_false "${INPUT_LOG_TOOL_DETAILS:-true}" && capture+=(--no-tool-details)

finish=()
[[ -n "${INPUT_REQUIRE_TELEMETRY:-}" ]] && finish+=("--require-telemetry=$INPUT_REQUIRE_TELEMETRY")
[[ -n "${INPUT_MIN_EVENTS:-}" ]] && finish+=(--min-events "$INPUT_MIN_EVENTS")
while IFS= read -r item; do finish+=(--require-action "$item"); done < <(items "${INPUT_REQUIRE_ACTION:-}")
while IFS= read -r item; do finish+=(--redact-env "$item"); done < <(items "${INPUT_REDACT_ENV:-}")
# Options other parts of beacon add: passed only when set, so an action input
# never hands an older beacon an option it does not know.
while IFS= read -r item; do finish+=(--upload "$item"); done < <(items "${INPUT_UPLOAD:-}")
[[ -n "${INPUT_UPLOAD_REQUIRED:-}" ]] && finish+=("--upload-required=$INPUT_UPLOAD_REQUIRED")
[[ -n "${INPUT_UPLOAD_LAYOUT:-}" ]] && finish+=(--upload-layout "$INPUT_UPLOAD_LAYOUT")
while IFS= read -r item; do finish+=(--forward "$item"); done < <(items "${INPUT_FORWARD:-}")
[[ -n "${INPUT_FORWARD_ENDPOINT:-}" ]] && finish+=(--forward-endpoint "$INPUT_FORWARD_ENDPOINT")
while IFS= read -r item; do finish+=(--rules "$item"); done < <(items "${INPUT_RULES:-}")
[[ -n "${INPUT_FAIL_ON:-}" ]] && finish+=(--fail-on "$INPUT_FAIL_ON")
while IFS= read -r item; do finish+=(--budget "$item"); done < <(items "${INPUT_BUDGET:-}")

if [[ -n "${INPUT_WORKING_DIRECTORY:-}" ]]; then
  cd "$INPUT_WORKING_DIRECTORY"
fi

stdout_file="$(mktemp "$RUNNER_TEMP/beacon-stdout.XXXXXX")"
code=0
case "$mode" in
  exec)
    # The same shell a `run:` step gets. stdout passes through and is kept for
    # the --json result line (the last line beacon prints).
    "$beacon" ci exec "${capture[@]}" "${finish[@]}" --json -- \
      bash --noprofile --norc -eo pipefail -c "${INPUT_COMMAND:?mode exec needs a command}" |
      tee "$stdout_file" || code=$?
    ;;
  start)
    "$beacon" ci session start "${capture[@]}" --json | tee "$stdout_file" || code=$?
    ;;
  finish)
    "$beacon" ci session stop "${finish[@]}" --json | tee "$stdout_file" || code=$?
    ;;
esac
python3 "$here/outputs.py" --mode "$mode" --exit-code "$code" --stdout "$stdout_file"
rm -f "$stdout_file"
# start fails its step at once: nothing to upload, nothing to wait for.
if [[ "$mode" == start ]]; then
  exit "$code"
fi
