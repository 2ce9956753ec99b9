#!/usr/bin/env bash
# Prove that the cron deployment really fires: start a local Prefect server, serve the envmine
# flow with an every-minute schedule, and wait until a scheduled run has completed.
# Usage: scripts/schedule_demo.sh [CONFIG.toml]   (default: envmine's default config)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
work=$(mktemp -d /tmp/envmine-schedule.XXXXXX)
port=${PORT:-4311}
export PREFECT_HOME="$work/prefect" PREFECT_API_URL="http://127.0.0.1:$port/api"
export PREFECT_SERVER_ANALYTICS_ENABLED=false ENVMINE_HOME="${ENVMINE_HOME:-$work/home}"
config=${1:-envmine/default.toml}

"$BIN/prefect" server start --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
server=$!
serving=
trap 'kill $serving $server 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 1 90); do curl -sf "$PREFECT_API_URL/health" >/dev/null && break; sleep 1; done
curl -sf "$PREFECT_API_URL/health" >/dev/null || { echo "Prefect server did not start; see $work/server.log"; exit 1; }

"$BIN/envmine" serve --cron "* * * * *" --config "$config" --name demo >"$work/serve.log" 2>&1 &
serving=$!
echo "server up, deployment served; waiting for the every-minute schedule to fire (up to 6 minutes)"
for _ in $(seq 1 72); do
    state=$(curl -sf -X POST "$PREFECT_API_URL/flow_runs/filter" -H 'content-type: application/json' \
        -d '{"flow_runs": {"deployment_id": {"is_null_": false}, "state": {"type": {"any_": ["RUNNING", "COMPLETED", "FAILED", "CRASHED"]}}}, "limit": 5}' \
        | "$BIN/python" -c 'import json,sys; runs=json.load(sys.stdin); print(" ".join(r["state_type"] for r in runs))')
    echo "scheduled runs: ${state:-none}"
    case " $state " in
        *" COMPLETED "*) echo "OK: a scheduled run completed"; exit 0 ;;
        *" FAILED "*|*" CRASHED "*) echo "a scheduled run failed; see $work/serve.log"; tail -30 "$work/serve.log"; exit 1 ;;
    esac
    sleep 5
done
echo "no scheduled run completed in time; see $work"
exit 1
