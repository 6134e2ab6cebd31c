"""The review page starts where the work is (issue #14, item 2), in real headless Chromium.

A project holds two post-event scenes 2 km apart; the model predicted on the
second. The page must open on that scene, on a real polygon rather than the
speck closest to the threshold, answer A at once and again after a scene was
chosen (no click on the map between), and draw the neighbouring predictions
and the reference outlines.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import Inventory
from inventories.services.scenes import scene_import
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_inventory, make_landslide

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _box(west: float, south: float, size: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((west, south, west + size, south + size)), srid=4326)


@pytest.fixture
def on_scene_b(people, tmp_path):
    """Scenes A and B (512 m each, 2 km apart); predicted on B: a 1 m² speck, two landslides."""
    rng = np.random.default_rng(3)
    scenes = []
    for name, x in (("A west", 500_000.0), ("B east", 502_000.0)):
        image = rng.integers(40, 200, size=(3, 512, 512), dtype=np.uint8)
        path = write_geotiff(tmp_path / f"{name[0]}.tif", image, nodata=0, origin=(x, 3_450_000.0))
        (scene, *_) = scene_import(
            project=people.a, source=path, name=name, band_names=["red", "green", "blue"]
        )
        scenes.append(scene)
    a, b = scenes
    west, south, east, north = b.footprint.extent
    step = (east - west) / 10
    inventory = make_inventory(people.a, "Predicted on B", kind="predicted", source_scene=b)
    # Closest to the threshold (0.5) but 1 m²: a reviewer should not start on it.
    speck = make_landslide(
        inventory, geometry=_box(west + step, south + step, step / 50), confidence=0.5, area_m2=1.0
    )
    first = make_landslide(
        inventory,
        geometry=_box(west + 3 * step, south + 4 * step, step),
        confidence=0.6,
        area_m2=2600.0,
    )
    second = make_landslide(
        inventory,
        geometry=_box(west + 6 * step, south + 4 * step, step),
        confidence=0.9,
        area_m2=2600.0,
    )
    reference = make_inventory(people.a, "Mapped in the field", kind=Inventory.Kind.REFERENCE)
    make_landslide(
        reference, geometry=_box(west + 3.2 * step, south + 4.2 * step, step), area_m2=2600.0
    )
    return {
        "a": a,
        "b": b,
        "inventory": inventory,
        "speck": speck,
        "first": first,
        "second": second,
    }


def test_the_review_opens_on_the_predicted_scene_and_its_keys_work_at_once(
    open_page, people, on_scene_b
):
    inventory, first = on_scene_b["inventory"], on_scene_b["first"]
    page = open_page(people.rita, f"/projects/{people.a.pk}/inventories/{inventory.pk}/review/")
    page.wait_for_function("window.scarpReview && window.scarpReview.ready === true")

    assert page.locator("#base-scene").input_value() == str(on_scene_b["b"].pk)
    assert page.evaluate("scarpReview.state.items[0].id") == first.pk
    assert page.evaluate("scarpReview.state.items.at(-1).id") == on_scene_b["speck"].pk
    # The map shows the first polygon, which lies on B.
    west, south, east, north = first.geometry.extent
    shown = page.evaluate(
        "([w, s, e, n]) => scarpReview.map.getBounds().contains([[s, w], [n, e]])",
        [west, south, east, north],
    )
    assert shown is True
    # The neighbours (the other prediction) and the reference outline are drawn as tiles.
    page.wait_for_function(
        "document.querySelectorAll('.leaflet-neighbours-pane path').length >= 1"
        " && document.querySelectorAll('.leaflet-references-pane path').length >= 1"
    )

    page.keyboard.press("a")
    page.wait_for_function("scarpReview.state.pos === 1 && !scarpReview.state.busy")
    first.refresh_from_db()
    assert first.review_state == "accepted"

    # Choose another scene with the select, then decide without touching the map.
    page.focus("#base-scene")
    page.select_option("#base-scene", str(on_scene_b["a"].pk))
    assert page.evaluate("document.activeElement.id") == "base-scene"
    page.keyboard.press("r")
    page.wait_for_function("scarpReview.state.pos === 2 && !scarpReview.state.busy")
    second = on_scene_b["second"]
    second.refresh_from_db()
    assert second.review_state == "rejected"
    assert page.locator("#base-scene").input_value() == str(on_scene_b["a"].pk)
    assert page.errors == []


def test_a_review_without_a_source_scene_still_opens_on_the_first_post_event_scene(
    open_page, people, on_scene_b
):
    inventory = on_scene_b["inventory"]
    inventory.source_scene = None
    inventory.save(update_fields=["source_scene"])
    page = open_page(people.rita, f"/projects/{people.a.pk}/inventories/{inventory.pk}/review/")
    page.wait_for_function("window.scarpReview && window.scarpReview.ready === true")
    assert page.locator("#base-scene").input_value() == str(on_scene_b["a"].pk)
    assert page.errors == []
