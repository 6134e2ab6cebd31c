"""Reviewing a predicted inventory in real headless Chromium, with the keyboard only.

What counts is what the database holds afterwards: states, versions, history
with the reviewer's name, and the promoted copies in a reference inventory.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import Inventory, LandslideChange
from inventories.services.scenes import scene_import
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_inventory, make_landslide

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def predicted(people, tmp_path):
    """Project A with a 512 m RGB scene and three predicted polygons on it.

    Threshold 0.5 (no model metrics), so the queue order is 0.55, 0.35, 0.9.
    """
    image = np.random.default_rng(7).integers(40, 200, size=(3, 512, 512), dtype=np.uint8)
    path = write_geotiff(tmp_path / "post.tif", image, nodata=0)
    (scene, *_) = scene_import(project=people.a, source=path, band_names=["red", "green", "blue"])
    west, south, east, north = scene.footprint.extent
    inventory = make_inventory(people.a, "Predicted", kind="predicted")
    size = (east - west) / 10
    for i, confidence in enumerate([0.55, 0.35, 0.9]):
        lon, lat = west + (2 + 3 * i) * size * 0.9, south + (north - south) / 2
        box = Polygon.from_bbox((lon, lat, lon + size, lat + size))
        make_landslide(inventory, geometry=MultiPolygon(box, srid=4326), confidence=confidence)
    return inventory


def wait_position(page, pos: int) -> None:
    page.wait_for_function(
        "([pos]) => scarpReview.state.pos === pos && !scarpReview.state.busy", arg=[pos]
    )


def test_a_reviewer_reviews_three_polygons_with_the_keyboard_and_promotes_them(
    open_page, people, predicted
):
    first, second, third = sorted(
        predicted.landslides.all(), key=lambda s: -abs(0.5 - s.confidence)
    )[::-1]
    page = open_page(people.rita, f"/projects/{people.a.pk}/inventories/{predicted.pk}/review/")
    page.wait_for_function("window.scarpReview && window.scarpReview.ready === true")
    assert page.locator("#progress-text").inner_text() == "0 of 3 decided (0%)"

    page.keyboard.press("a")
    wait_position(page, 1)
    page.keyboard.press("r")
    wait_position(page, 2)
    page.keyboard.press("e")
    vertex = page.locator(".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)").first
    vertex.wait_for()
    box = vertex.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y + 15, steps=4)
    page.mouse.move(x + 40, y + 30, steps=4)
    page.mouse.up()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.getElementById('progress-text').textContent.startsWith('3 of 3')"
    )

    old_third = third.geometry
    for landslide in (first, second, third):
        landslide.refresh_from_db()
    assert [s.review_state for s in (first, second, third)] == ["accepted", "rejected", "edited"]
    assert [s.version for s in (first, second, third)] == [2, 2, 2]
    assert not third.geometry.equals(old_third)
    for landslide in (first, second, third):
        change = LandslideChange.objects.get(landslide_pk=landslide.pk, version=2)
        assert change.user == people.rita
        assert change.data["review_state"] == landslide.review_state
    assert page.locator("[data-count=accepted]").inner_text() == "1"

    page.fill("#promote-name", "Reviewed")
    page.click("#promote")
    page.wait_for_function("document.getElementById('message').textContent.startsWith('Promoted')")
    reference = Inventory.objects.get(project=people.a, name="Reviewed")
    promoted = {s.attributes["source_landslide"]: s for s in reference.landslides.all()}
    assert set(promoted) == {first.pk, third.pk}
    assert promoted[third.pk].geometry.equals(third.geometry)
    assert promoted[first.pk].attributes["reviewer"] == "rita"
    assert page.errors == []


def test_a_conflicting_decision_is_shown_not_swallowed(open_page, people, predicted):
    from inventories.services.review import review_decide

    page = open_page(people.rita, f"/projects/{people.a.pk}/inventories/{predicted.pk}/review/")
    page.wait_for_function("window.scarpReview && window.scarpReview.ready === true")
    shown = page.evaluate("scarpReview.state.items[0].id")
    landslide = predicted.landslides.get(pk=shown)
    review_decide(landslide=landslide, decision="rejected", version=1, user=people.alice)

    page.keyboard.press("a")

    conflict = page.locator("#conflict")
    conflict.wait_for(state="visible")
    assert "alice" in conflict.inner_text() and "version 2" in conflict.inner_text()
    assert page.locator("#current-state").inner_text() == "rejected"
    landslide.refresh_from_db()
    assert (landslide.review_state, landslide.version) == ("rejected", 2)
