#!/usr/bin/env bash
# The web server as production runs it: DEBUG off, gunicorn, static files collected and served
# by WhiteNoise. `make run` uses it, so a user sees Scarp's own 404 and 500 pages, never
# Django's debug pages (which list every URL pattern). SCARP_PORT picks the port (8000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export DEBUG=false
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
# Each of gunicorn's threads would keep its own database connection: on a machine whose
# PostgreSQL also serves the workers and tests, close them after each request.
export SCARP_DB_CONN_MAX_AGE=${SCARP_DB_CONN_MAX_AGE:-0}
mkdir -p var/run
# The control socket lives with this checkout (gunicorn's default, ~/.gunicorn, is shared by
# every server of the user, and stopping one removed another's); Ctrl-C stops within 5 s.
exec .venv/bin/gunicorn webapp.wsgi:application \
  --bind "127.0.0.1:${SCARP_PORT:-8000}" --workers 2 --threads 8 --timeout 300 \
  --graceful-timeout 5 --control-socket "$PWD/var/run/gunicorn-${SCARP_PORT:-8000}.ctl" \
  --access-logfile - --error-logfile -
