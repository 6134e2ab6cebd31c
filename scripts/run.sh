#!/usr/bin/env bash
# Serves Scarp with the demo data: web server, a CPU worker (queue default) and a
# GPU-style worker (queue gpu, one job at a time in a fresh process) and Celery beat
# (runs the job reaper every minute). Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
PY=.venv/bin/python
mkdir -p var/log

$PY manage.py seed_demo

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "==> Stopping Scarp"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash scripts/services.sh stop
}
trap cleanup INT TERM EXIT

.venv/bin/celery -A webapp worker -Q default -c 2 -n default@%h --loglevel INFO \
  > var/log/worker-default.log 2>&1 &
pids+=($!)
.venv/bin/celery -A webapp worker -Q gpu -c 1 --max-tasks-per-child 1 -n gpu@%h --loglevel INFO \
  > var/log/worker-gpu.log 2>&1 &
pids+=($!)
# Beat schedules the reaper (jobs whose worker vanished, queued jobs the broker lost).
.venv/bin/celery -A webapp beat --loglevel INFO -s var/celerybeat-schedule \
  > var/log/beat.log 2>&1 &
pids+=($!)
echo "==> Workers and beat logging to var/log/"
echo "==> Scarp on http://127.0.0.1:${SCARP_PORT:-8000}  (Ctrl-C stops everything)"
# The web server as in production (DEBUG off, gunicorn, WhiteNoise): see scripts/web.sh.
bash scripts/web.sh &
pids+=($!)
wait "${pids[-1]}"
