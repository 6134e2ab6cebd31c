"""A new project's area of interest, in real Chromium (issue #14, item 4).

A new user draws the area on the New project form's map, creates the
project, and lands on its page: the area is drawn there, and the workflow
card says what to do first, as a link that opens the imagery upload. Bounds
typed by hand work too; bounds that are not degrees are refused by the
server with the area named, and nothing is created.
"""

from __future__ import annotations

import pytest

from inventories.models import Project
from tests.factories.rows import make_scene, square

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _bounds(page) -> list[float]:
    return [
        float(page.locator(f"[data-bound={b}]").input_value())
        for b in ("west", "south", "east", "north")
    ]


def test_a_drawn_area_is_the_new_projects_and_the_workflow_says_upload(
    open_page, django_user_model
):
    erin = django_user_model.objects.create_user("erin", password="pw-erin")
    page = open_page(erin, "/")
    form = page.locator("#project-form")
    form.locator("input[name=name]").fill("Gorge <i>survey</i>")
    form.locator("[data-draw=rectangle]").click()
    box = page.locator("#area-map").bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    x1, y1 = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7
    page.mouse.click(x0, y0)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.click(x1, y1)
    page.locator("#area-status", has_text="Area drawn").wait_for(timeout=10_000)
    west, south, east, north = _bounds(page)
    assert west < east and south < north  # the inputs follow the drawing

    form.locator("button[type=submit]").click()
    page.wait_for_url("**/projects/*/", timeout=15_000)
    project = Project.objects.get(created_by=erin)
    assert page.locator("h1").inner_text() == "Gorge <i>survey</i>"
    area = project.area_of_interest
    assert area.geom_type == "MultiPolygon" and area.srid == 4326
    assert area.extent == pytest.approx((west, south, east, north), abs=1e-4)

    assert page.locator("#area-map path.leaflet-interactive, #area-map path").count() >= 1
    steps = page.locator("#workflow .steps li")
    assert steps.count() == 6
    assert "0 scenes" in page.locator("#workflow [data-step=imagery]").inner_text()
    link = page.locator("#next-action a")
    assert link.inner_text() == "upload imagery"
    assert link.get_attribute("href") == f"/projects/{project.pk}/#scene-upload"
    link.click()
    upload = page.locator("#scene-upload")
    upload.wait_for(timeout=5_000)
    assert page.evaluate("location.hash") == "#scene-upload"
    assert upload.locator("input[type=file]").is_visible()
    assert page.errors == []


def test_typed_bounds_make_the_area_and_bounds_in_metres_are_refused(open_page, people):
    page = open_page(people.alice, "/")
    form = page.locator("#project-form")
    form.locator("input[name=name]").fill("Typed bounds")
    for bound, value in zip(
        ("west", "south", "east", "north"), (500000, 3440000, 501000, 3441000), strict=True
    ):
        form.locator(f"[data-bound={bound}]").fill(str(value))
    form.locator("[data-set-bounds]").click()
    form.locator("button[type=submit]").click()
    status = form.locator(".status")
    status.filter(has_text="area of interest").wait_for(timeout=10_000)
    assert "Not created" in status.inner_text() and "longitude/latitude" in status.inner_text()
    assert not Project.objects.filter(name="Typed bounds").exists()

    for bound, value in zip(
        ("west", "south", "east", "north"), (98.6, 31.1, 98.7, 31.2), strict=True
    ):
        form.locator(f"[data-bound={bound}]").fill(str(value))
    form.locator("[data-set-bounds]").click()
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/projects/*/", timeout=15_000)
    area = Project.objects.get(name="Typed bounds").area_of_interest
    assert area.extent == pytest.approx((98.6, 31.1, 98.7, 31.2))
    assert page.errors == []


def test_an_admin_draws_the_area_on_the_project_page_and_an_annotator_only_sees_it(
    open_page, people
):
    page = open_page(people.alice, f"/projects/{people.a.pk}/")
    card = page.locator("#area")
    assert card.locator("#no-area").is_visible()
    card.locator("[data-draw=polygon]").click()
    box = page.locator("#area-map").bounding_box()
    corners = [(0.3, 0.3), (0.7, 0.3), (0.6, 0.7), (0.3, 0.3)]  # the last click closes it
    for fx, fy in corners:
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    card.locator("#area-status", has_text="not saved yet").wait_for(timeout=10_000)
    card.locator("[data-save-area]").click()
    card.locator("#area-status", has_text="Area saved").wait_for(timeout=10_000)
    people.a.refresh_from_db()
    area = people.a.area_of_interest
    assert area is not None and len(area[0].exterior_ring) == 4  # a triangle, closed

    reader = open_page(people.bob, f"/projects/{people.a.pk}/")
    reader.locator("#area-map path").first.wait_for(timeout=10_000)
    assert reader.locator("#area [data-draw]").count() == 0
    assert reader.locator("#area [data-save-area]").count() == 0
    assert page.errors == [] and reader.errors == []


def test_a_footprint_names_its_scene_as_text(open_page, people):
    payload = '<img src=x onerror="window.__xss=1">'
    make_scene(people.a, f"post {payload}")
    people.a.area_of_interest = square(lon=98.679, lat=31.139, size=0.003)
    people.a.save()
    page = open_page(people.bob, f"/projects/{people.a.pk}/")
    outline = page.locator(".leaflet-footprints-pane path").first
    outline.wait_for(timeout=10_000)
    box = outline.bounding_box()
    page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2)
    tip = page.locator(".leaflet-tooltip")
    tip.wait_for(timeout=5_000)
    assert tip.inner_text() == f"post {payload}"
    assert page.evaluate("window.__xss") is None and page.errors == []
