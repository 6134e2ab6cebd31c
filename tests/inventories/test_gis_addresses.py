"""The project page's "Open in QGIS or GDAL": the addresses it prints answer a member's token.

Each address is taken from the page as a person copies it, and fetched the way
a GIS client does (the API token as the Basic password): a member gets 200,
an outsider 404 on the very same address.
"""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client

from inventories.services.api_tokens import api_token_get


def basic(user, token: str) -> str:
    return "Basic " + base64.b64encode(f"{user.username}:{token}".encode()).decode()


def page_of(user, project) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/projects/{project.pk}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_every_address_on_the_page_answers_a_member_and_not_an_outsider(people):
    html = page_of(people.bob, people.a)
    addresses = dict(re.findall(r'<code data-gis="(\w+)">([^<]+)</code>', html))
    assert set(addresses) == {"ogc", "wmts", "stac"}
    member, outsider = api_token_get(user=people.bob), api_token_get(user=people.charlie)
    for key, address in addresses.items():
        assert address.startswith("http://testserver/api/projects/"), address
        path = address.removeprefix("http://testserver")
        answer = Client().get(path, HTTP_AUTHORIZATION=basic(people.bob, member))
        assert answer.status_code == 200, (key, answer.content[:200])
        refused = Client().get(path, HTTP_AUTHORIZATION=basic(people.charlie, outsider))
        assert refused.status_code == 404, key
    assert "<code>bob</code>" in html  # the user name to type beside the token


@pytest.mark.django_db
def test_the_page_never_prints_the_token(people):
    token = api_token_get(user=people.bob)
    assert token not in page_of(people.bob, people.a)


@pytest.mark.django_db
def test_my_token_is_mine_and_renewing_it_cuts_off_the_old_one(people):
    client = Client()
    client.force_login(people.bob)
    first = client.post("/api/auth/my-token/", {}, content_type="application/json").json()["token"]
    again = client.post("/api/auth/my-token/", {}, content_type="application/json").json()["token"]
    assert first == again == api_token_get(user=people.bob)
    url = f"/api/projects/{people.a.pk}/ogc/collections"
    assert Client().get(url, HTTP_AUTHORIZATION=basic(people.bob, first)).status_code == 200

    renewed = client.post(
        "/api/auth/my-token/", {"renew": True}, content_type="application/json"
    ).json()["token"]
    assert renewed != first
    assert Client().get(url, HTTP_AUTHORIZATION=basic(people.bob, first)).status_code == 403
    assert Client().get(url, HTTP_AUTHORIZATION=basic(people.bob, renewed)).status_code == 200


@pytest.mark.django_db
def test_only_a_signed_in_person_gets_a_token_and_only_by_post(people):
    assert Client().post("/api/auth/my-token/").status_code == 403
    client = Client()
    client.force_login(people.bob)
    assert client.get("/api/auth/my-token/").status_code == 405
    assert client.post("/api/auth/my-token/").status_code == 200


@pytest.mark.django_db
def test_a_page_without_the_csrf_token_cannot_take_it(people):
    """A session's POST from another site carries no CSRF token: refused."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.bob)
    assert client.post("/api/auth/my-token/").status_code == 403
