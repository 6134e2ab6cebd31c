"""The API token as an HTTP Basic password, the way QGIS's Basic authentication and GDAL send it.

Each refusal has its twin: the same URL answered for the right pair, so a
refusal cannot pass because the URL itself is wrong.
"""

from __future__ import annotations

import base64

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


@pytest.fixture
def url(people) -> str:
    return f"/api/projects/{people.a.pk}/ogc/collections"


@pytest.mark.django_db
def test_a_member_reads_with_her_token_as_the_basic_password(people, url):
    token = Token.objects.create(user=people.bob).key
    response = APIClient().get(url, HTTP_AUTHORIZATION=basic("bob", token))
    assert response.status_code == 200, response.content
    assert "collections" in response.json()


@pytest.mark.django_db
def test_the_account_password_is_not_a_basic_password(people, url):
    """Passwords are guessed only at the throttled token endpoint, never here.

    403, not 401: the API's first scheme is the session, and a 401 asking for Basic would
    make a browser pop a password dialog over a page whose session ran out."""
    response = APIClient().get(url, HTTP_AUTHORIZATION=basic("bob", "pw-bob"))
    assert response.status_code == 403
    assert "API token" in response.json()["detail"]
    assert "WWW-Authenticate" not in response


@pytest.mark.django_db
def test_a_token_sent_with_another_users_name_is_refused(people, url):
    token = Token.objects.create(user=people.bob).key
    refused = APIClient().get(url, HTTP_AUTHORIZATION=basic("alice", token))
    assert refused.status_code == 403
    assert APIClient().get(url, HTTP_AUTHORIZATION=basic("bob", token)).status_code == 200


@pytest.mark.django_db
def test_an_outsiders_token_finds_no_project_and_a_members_does(people, url):
    charlie = Token.objects.create(user=people.charlie).key
    assert APIClient().get(url, HTTP_AUTHORIZATION=basic("charlie", charlie)).status_code == 404
    bob = Token.objects.create(user=people.bob).key
    assert APIClient().get(url, HTTP_AUTHORIZATION=basic("bob", bob)).status_code == 200


@pytest.mark.django_db
def test_a_deactivated_users_token_is_refused(people, url):
    token = Token.objects.create(user=people.bob).key
    people.bob.is_active = False
    people.bob.save()
    assert APIClient().get(url, HTTP_AUTHORIZATION=basic("bob", token)).status_code == 403


@pytest.mark.django_db
def test_garbled_basic_credentials_get_a_message_not_an_error(people, url):
    response = APIClient().get(url, HTTP_AUTHORIZATION="Basic not*base64")
    assert response.status_code == 403
    assert "username:token" in response.json()["detail"]
