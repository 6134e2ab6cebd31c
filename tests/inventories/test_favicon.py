"""Every page links an icon that exists, so browsers do not ask for a missing /favicon.ico."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_pages_link_a_favicon_that_is_a_static_file(client, people):
    client.force_login(people.alice)
    page = client.get("/")
    assert page.status_code == 200
    match = re.search(r'<link rel="icon" href="([^"]+)"', page.content.decode())
    assert match, "no icon link on the project list"
    name = match.group(1).removeprefix("/" + settings.STATIC_URL.strip("/") + "/")
    found = finders.find(name)
    assert found and Path(found).read_text(encoding="utf-8").startswith("<svg")
