# Environment for local development and tests: the private services under ./var.
# Sourced by the Makefile; production sets these variables itself.
_scarp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DATABASE_URL=${DATABASE_URL:-postgis://scarp:scarp@127.0.0.1:${SCARP_PGPORT:-54329}/scarp}
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:${SCARP_REDIS_PORT:-63799}/0}
export DEBUG=${DEBUG:-true}
export SECRET_KEY=${SECRET_KEY:-dev-only-not-secret}
export MEDIA_ROOT=${MEDIA_ROOT:-$_scarp_root/var/media}
export SCARP_SHARED_DATA=${SCARP_SHARED_DATA:-$_scarp_root/../shared/data}
