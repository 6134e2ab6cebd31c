"""The Django admin's map works offline (issue #14, item 4).

Django's GISModelAdmin drew geometry fields with OpenLayers from a CDN, a
blank box without the internet. The admin now uses django-leaflet's widget
from our own static files: in real Chromium the project's change page asks
no other host for anything, draws the area of interest, and saving the form
keeps it.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.contrib.gis.geos import Polygon

from inventories.services.projects import project_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_admin_draws_the_area_of_interest_without_the_internet(
    open_page, live_server, django_user_model
):
    root = django_user_model.objects.create_superuser("root", password="pw-root")
    area = json.loads(Polygon.from_bbox((98.6, 31.1, 98.7, 31.2)).geojson)
    project = project_create(name="Offline gorge", user=root, area_of_interest=area)
    page = open_page(root, "/")
    ours = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []

    def only_ours(route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_ours)
    page.goto(f"/admin/inventories/project/{project.pk}/change/")
    page.wait_for_load_state("networkidle")
    page.locator(".leaflet-container").first.wait_for(timeout=10_000)
    assert page.locator(".leaflet-container path").count() >= 1  # the area, drawn
    assert elsewhere == []
    assert page.errors == []

    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/inventories/project/", timeout=15_000)
    project.refresh_from_db()
    assert project.area_of_interest.extent == pytest.approx((98.6, 31.1, 98.7, 31.2))
    assert elsewhere == []
