#!/usr/bin/env bash
# cronhook in one minute, with curl.
#
#   cronhook dev                          # terminal 1: API + dispatcher + invoker, in-process
#   export CRONHOOK_API_KEY=...           # a tenant API key (see `cronhook dev` output)
#   examples/quickstart.sh                # terminal 2
#
# Creates a schedule that fires every 2 seconds (6-field cron, seconds first) at the dev echo
# receiver ($CRONHOOK_URL/_echo/quickstart), waits, lists the schedule's fires, and deletes the
# schedule again (set CRONHOOK_QUICKSTART_KEEP=1 to keep it firing).
#
# Environment:
#   CRONHOOK_URL              default http://127.0.0.1:8080
#   CRONHOOK_API_KEY          required: a tenant API key
#   CRONHOOK_QUICKSTART_WAIT  seconds to wait for fires, default 7
#   CRONHOOK_QUICKSTART_KEEP  1 keeps the schedule instead of deleting it
#
# Pretty-prints with jq when installed, else with `python3 -m json.tool`.
set -euo pipefail

CRONHOOK_URL="${CRONHOOK_URL:-http://127.0.0.1:8080}"
CRONHOOK_URL="${CRONHOOK_URL%/}"
: "${CRONHOOK_API_KEY:?set CRONHOOK_API_KEY to a tenant API key}"
WAIT="${CRONHOOK_QUICKSTART_WAIT:-7}"

pretty() {
  if command -v jq >/dev/null 2>&1; then jq .; else python3 -m json.tool; fi
}

# field NAME: print the top-level string field NAME of the JSON document on stdin.
field() {
  if command -v jq >/dev/null 2>&1; then
    jq -r --arg name "$1" '.[$name]'
  else
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
  fi
}

# api METHOD PATH [JSON]: call the API and print the response body; on a 4xx/5xx print the
# problem document to stderr and fail.
api() {
  local method="$1" path="$2"
  local args=(--silent --show-error --fail-with-body --max-time 10 -X "$method"
    -H "Authorization: Bearer ${CRONHOOK_API_KEY}" -H "Accept: application/json")
  if [[ $# -ge 3 ]]; then
    args+=(-H "Content-Type: application/json" --data-binary "$3")
  fi
  local body
  if ! body=$(curl "${args[@]}" "${CRONHOOK_URL}${path}"); then
    echo "error: ${method} ${path} failed" >&2
    if [[ -n "$body" ]]; then printf '%s\n' "$body" >&2; fi
    return 1
  fi
  printf '%s\n' "$body"
}

schedule_json=$(cat <<JSON
{
  "name": "quickstart-$(date -u +%Y%m%dT%H%M%SZ)",
  "cron": "*/2 * * * * *",
  "timezone": "UTC",
  "target": {
    "url": "${CRONHOOK_URL}/_echo/quickstart",
    "method": "POST",
    "headers": {},
    "body": {"hello": "from the cronhook quickstart"}
  }
}
JSON
)

echo "==> POST /v1/schedules (every 2 seconds -> ${CRONHOOK_URL}/_echo/quickstart)"
created=$(api POST /v1/schedules "$schedule_json")
printf '%s\n' "$created" | pretty
schedule_id=$(printf '%s' "$created" | field id)

echo "==> waiting ${WAIT}s for fires"
sleep "$WAIT"

echo "==> GET /v1/schedules/${schedule_id}/fires"
api GET "/v1/schedules/${schedule_id}/fires" | pretty

if [[ "${CRONHOOK_QUICKSTART_KEEP:-0}" == "1" ]]; then
  echo "==> keeping schedule ${schedule_id}; remove it with:"
  echo "    curl -X DELETE -H 'Authorization: Bearer \$CRONHOOK_API_KEY' ${CRONHOOK_URL}/v1/schedules/${schedule_id}"
else
  echo "==> DELETE /v1/schedules/${schedule_id}"
  api DELETE "/v1/schedules/${schedule_id}" >/dev/null
  echo "done"
fi
