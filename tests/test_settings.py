"""Settings read from the environment fail loudly on a typo."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp.env import database_from_url, envbool, envint


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
