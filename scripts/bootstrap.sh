#!/usr/bin/env bash
# Installs what Scarp needs on a Debian/Ubuntu machine and is safe to run again:
# system packages (apt), the virtualenv in .venv with pinned requirements,
# and Playwright's Python package (it drives the system Chromium; no browser download).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  postgresql postgresql-contrib postgis gdal-bin libgdal-dev binutils libproj-dev
  redis-server chromium chromium-driver python3-venv python3-dev build-essential
  libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> Installing system packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}
install_missing "${APT_PACKAGES[@]}"
# `postgis` only *recommends* the server extension, so --no-install-recommends (and a
# machine that already had PostgreSQL) leaves CREATE EXTENSION postgis failing. Install
# the extension package for the newest PostgreSQL major actually present.
pg_major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
if [ -n "$pg_major" ] && [ ! -f "/usr/share/postgresql/$pg_major/extension/postgis.control" ]; then
  install_missing "postgresql-$pg_major-postgis-3"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> Installing Python requirements into .venv (torch is large: a few minutes the first time)"
  .venv/bin/python -m pip install -q --upgrade pip wheel
  # --no-compile: byte-compiling all of torch's files took CI about a minute; Python compiles
  # the modules it imports on first use instead.
  .venv/bin/python -m pip install -q --no-compile -r requirements.txt
  echo "$want" > "$stamp"
fi
