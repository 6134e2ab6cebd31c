"""Settings read from the environment fail loudly on a typo."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp.env import database_from_url, envbool, envint, envtileurl


def test_envbool_refuses_a_typo(monkeypatch):
    monkeypatch.setenv("DEBUG", "ture")
    with pytest.raises(ImproperlyConfigured, match="true or false"):
        envbool("DEBUG", "False")


def test_envint_refuses_a_word(monkeypatch):
    monkeypatch.setenv("SCARP_JOB_MAX_ATTEMPTS", "three")
    with pytest.raises(ImproperlyConfigured, match="integer"):
        envint("SCARP_JOB_MAX_ATTEMPTS", "3")


def test_database_url_is_parsed_into_a_postgis_database():
    db = database_from_url("postgis://u:p%40ss@db.example:5433/scarp")
    assert db["ENGINE"].endswith("postgis")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "u",
        "p@ss",
        "db.example",
        "5433",
        "scarp",
    )


def test_a_non_postgis_database_url_is_refused():
    with pytest.raises(ImproperlyConfigured, match="postgis://"):
        database_from_url("sqlite:///db.sqlite3")


def test_kept_connections_are_off_where_runserver_serves(monkeypatch):
    """runserver (the edit soak's server) makes a thread per request: kept
    connections piled up there until PostgreSQL said "too many clients"."""
    monkeypatch.delenv("SCARP_DB_CONN_MAX_AGE", raising=False)
    assert database_from_url("postgis://u@h/scarp")["CONN_MAX_AGE"] == 60
    monkeypatch.setenv("SCARP_DB_CONN_MAX_AGE", "0")
    assert database_from_url("postgis://u@h/scarp")["CONN_MAX_AGE"] == 0
    monkeypatch.setenv("SCARP_DB_CONN_MAX_AGE", "sixty")
    with pytest.raises(ImproperlyConfigured, match="SCARP_DB_CONN_MAX_AGE"):
        database_from_url("postgis://u@h/scarp")


def _settings_under(env: dict[str, str]) -> dict:
    """The security settings a fresh process reads from `env` (settings run at import).

    Only the settings module is imported, not the apps (django.setup() would load
    every model and mlcore's torch: seconds per call for nothing read here).
    """
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json; from django.conf import settings; print(json.dumps("
        "{k: getattr(settings, k, None) for k in ['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
        " 'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', 'SECURE_SSL_REDIRECT']}))"
    )
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "SECRET_KEY": "k", **env}
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], env=full, cwd=root, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_https_in_production_turns_on_secure_cookies_hsts_and_the_proxy_header():
    values = _settings_under({"DEBUG": "false", "SCARP_HTTPS": "true"})
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_SSL_REDIRECT"] is True


def test_without_https_or_in_debug_the_app_still_works_over_plain_http():
    for env in ({"DEBUG": "false"}, {"DEBUG": "true", "SCARP_HTTPS": "true"}):
        values = _settings_under(env)
        assert not values["SESSION_COOKIE_SECURE"], env
        assert not values["SECURE_HSTS_SECONDS"] and not values["SECURE_SSL_REDIRECT"], env


def test_make_run_listens_on_the_loopback_address_only():
    from pathlib import Path

    scripts = Path(__file__).resolve().parent.parent / "scripts"
    assert "scripts/web.sh" in (scripts / "run.sh").read_text()  # make run serves through it
    web = (scripts / "web.sh").read_text()
    binds = [line for line in web.splitlines() if "--bind" in line or "runserver" in line]
    assert binds and all('"127.0.0.1:' in line for line in binds), binds


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("tiles.example/{z}/{x}/{y}.png", "http:// or https://"),
        ("https://tiles.example/{z}/{x}.png", "lacks {y}"),
    ],
)
def test_a_basemap_url_that_could_never_load_stops_the_start(monkeypatch, value, says):
    monkeypatch.setenv("SCARP_BASEMAP_URL", value)
    with pytest.raises(ImproperlyConfigured, match=says):
        envtileurl("SCARP_BASEMAP_URL")


def test_no_basemap_url_is_no_basemap(monkeypatch):
    monkeypatch.delenv("SCARP_BASEMAP_URL", raising=False)
    assert envtileurl("SCARP_BASEMAP_URL") == ""
