"""Property-based requests from the OpenAPI schema, for every role: no 500, no leak.

schemathesis generates a few requests per operation from /api/schema/; each
is sent as annotator, reviewer and admin of project A and as charlie, the
outsider. For charlie the path's ids are those of A's objects, so the test
asks what an outsider learns by probing: never a 5xx, never a 2xx, never A's
names in the answer. Kept to a few examples per operation so it stays short.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig

from tests.factories.rows import make_extent, make_inventory, make_job, make_landslide, make_scene
from webapp.wsgi import application

SECRET = "SECRET-A"  # in the names of project A's objects; charlie must never see it
CONFIG = SchemathesisConfig.from_dict(
    {"phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}}}
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)
# Tiles render images (their own tests cover them); binary downloads are not JSON.
schema = schema.exclude(path_regex=r"tiles/")


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Requests go through the real WSGI handler, which closes the database connection
    after each one; the test's transaction must outlive them, as Django's test client does.
    """
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzz_world(people, settings, wsgi_keeps_the_test_connection):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # throttle counters of earlier tests
    people.a.name = f"Project A {SECRET}"
    people.a.save()
    inventory = make_inventory(people.a, f"inventory {SECRET}")
    predicted = make_inventory(people.a, f"predicted {SECRET}", kind="predicted")
    ids = {
        "project_pk": people.a.pk,
        "inventory_pk": inventory.pk,
        "id": inventory.pk,
        "pk": make_landslide(inventory).pk,
    }
    make_landslide(predicted)
    make_extent(inventory)
    make_scene(people.a, f"scene {SECRET}")
    make_job(people.a)
    tokens = {
        name: Token.objects.create(user=getattr(people, name)).key
        for name in ("bob", "rita", "alice", "charlie")
    }
    return type("FuzzWorld", (), {"ids": ids, "tokens": tokens})


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_never_fail_and_never_leak(case, fuzz_world):
    for role, token in fuzz_world.tokens.items():
        headers = {"Authorization": f"Token {token}"}
        if role == "charlie" and case.path_parameters:
            case.path_parameters = {
                name: fuzz_world.ids.get(name, value)
                for name, value in case.path_parameters.items()
            }
        response = case.call(headers=headers)
        where = f"{case.method} {case.formatted_path} as {role}"
        assert response.status_code < 500, (where, response.text[:500])
        if role == "charlie":
            assert SECRET not in response.text, where
            if case.path_parameters:
                assert response.status_code >= 400, (where, response.status_code)
