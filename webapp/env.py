"""Typed readers for settings from the environment.

A typo in a deployment must fail loudly at start-up instead of silently
becoming a string, so every reader parses and validates its value.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from None


def envtileurl(name: str) -> str:
    """An XYZ tile URL template (http(s)://.../{z}/{x}/{y}.png), or "" when unset.

    Checked here so a basemap that could never load stops the app at start-up,
    not as grey squares on every map.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return ""
    if urlparse(value).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(f"{name} must start with http:// or https://, not {value!r}.")
    missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
    if missing:
        raise ImproperlyConfigured(
            f"{name} must hold {{z}}, {{x}} and {{y}} (an XYZ tile URL); "
            f"{value!r} lacks {', '.join(missing)}."
        )
    return value


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict[str, object]:
    """Turn postgis://user:pass@host:port/name into a DATABASES entry.

    Only PostGIS is accepted: the app depends on spatial SQL (ST_AsMVT, geography areas).
    Connections are kept for SCARP_DB_CONN_MAX_AGE seconds (default 60), which suits
    gunicorn's long-lived workers; `manage.py runserver` starts a thread per request,
    whose kept connections pile up until PostgreSQL refuses clients, so whatever
    serves with it sets 0.
    """
    parsed = urlparse(url)
    if parsed.scheme not in {"postgis", "postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgis://, not {parsed.scheme}://."
        )
    name = parsed.path.lstrip("/")
    if not name:
        raise ImproperlyConfigured("DATABASE_URL must name a database, e.g. postgis://host/scarp.")
    return {
        "ENGINE": "django.contrib.gis.db.backends.postgis",
        "NAME": unquote(name),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": envint("SCARP_DB_CONN_MAX_AGE", "60"),
        "TEST": {"NAME": f"test_{unquote(name)}"},
    }
