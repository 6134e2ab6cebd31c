#!/usr/bin/env bash
# Runs the whole suite against the private PostGIS and Redis (started by `make setup`).
# Tests use their own Redis database and media folder, so a running `make run` is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export CELERY_BROKER_URL=redis://127.0.0.1:${SCARP_REDIS_PORT:-63799}/1
export MEDIA_ROOT="$PWD/var/test-media"
export SCARP_TEST_ARTIFACTS="$PWD/test-artifacts"
rm -rf "$MEDIA_ROOT"; mkdir -p "$MEDIA_ROOT" "$SCARP_TEST_ARTIFACTS"
redis-cli -p "${SCARP_REDIS_PORT:-63799}" -n 1 flushdb >/dev/null
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
