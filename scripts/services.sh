#!/usr/bin/env bash
# Starts or stops the private PostgreSQL+PostGIS cluster and Redis under ./var.
# Usage: scripts/services.sh start|stop|status
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# postgres user; otherwise to the invoking user.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR="$ROOT/var"
PGDATA="$VAR/postgres"
PGPORT=${SCARP_PGPORT:-54329}
REDIS_PORT=${SCARP_REDIS_PORT:-63799}
DB_NAME=scarp
DB_USER=scarp
DB_PASSWORD=scarp

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$PGBIN" ] || { echo "PostgreSQL is not installed; run scripts/bootstrap.sh" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  mkdir -p "$VAR"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    echo "==> Creating PostgreSQL cluster in $PGDATA"
    mkdir -p "$PGDATA"
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres:postgres "$PGDATA"
      chmod 755 "$VAR"
      # postgres must be able to walk down to var/ from /.
      d="$ROOT"; while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
    fi
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
      -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  fi
  psql_cmd() { as_pg psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
  if [ "$(psql_cmd -c "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != "1" ]; then
    psql_cmd -c "CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD'"
  fi
  if [ "$(psql_cmd -c "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != "1" ]; then
    psql_cmd -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
  fi
  psql_cmd -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS postgis"
  echo "==> PostgreSQL on 127.0.0.1:$PGPORT"
}

redis_start() {
  mkdir -p "$VAR/redis"
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$VAR/redis" --daemonize yes \
      --pidfile "$VAR/redis/redis.pid" --logfile "$VAR/redis/redis.log" --save "" --appendonly no
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "==> Redis on 127.0.0.1:$REDIS_PORT"
}

stop_all() {
  if [ -f "$PGDATA/PG_VERSION" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
  fi
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) pg_start; redis_start ;;
  stop) stop_all ;;
  status)
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status || true
    redis-cli -p "$REDIS_PORT" ping || true ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
