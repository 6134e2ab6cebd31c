#!/usr/bin/env bash
# The web server as production runs it: DEBUG off, gunicorn, static files collected and served
# by WhiteNoise. `make run` uses it, so a user sees Scarp's own 404 and 500 pages, never
# Django's debug pages (which list every URL pattern). SCARP_PORT picks the port (8000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export DEBUG=false
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
# A thread per request: kept database connections would pile up ("too many clients").
export SCARP_DB_CONN_MAX_AGE=${SCARP_DB_CONN_MAX_AGE:-0}
exec .venv/bin/gunicorn webapp.wsgi:application \
  --bind "127.0.0.1:${SCARP_PORT:-8000}" --workers 2 --threads 8 --timeout 300 \
  --access-logfile - --error-logfile -
