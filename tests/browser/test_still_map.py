"""A map that keeps still under the pen (issue #14, item 5), in real headless Chromium.

The toolbar's hint does not move the map, one wheel notch is one zoom
level, and choosing a scene shows that scene.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.services.scenes import scene_import
from tests.browser.test_editor import corner, drag, lonlat, pixel, saved, select
from tests.conftest import wait_for
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_inventory, make_landslide

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_scenes(people, tmp_path):
    """Scenes A and B of 512 m, B 400 m east of A: a view of A overlaps B but is not on it."""
    rng = np.random.default_rng(11)
    scenes = []
    for name, x in (("A", 500_000.0), ("B", 500_400.0)):
        image = rng.integers(40, 200, size=(3, 512, 512), dtype=np.uint8)
        path = write_geotiff(tmp_path / f"{name}.tif", image, nodata=0, origin=(x, 3_450_000.0))
        (scene,) = scene_import(
            project=people.a, source=path, name=name, band_names=["red", "green", "blue"]
        )
        scenes.append(scene)
    make_inventory(people.a, "Field mapping")
    return scenes


def ready(page) -> None:
    page.wait_for_function("window.scarp && window.scarp.editor.inventory !== null")
    page.wait_for_selector(".leaflet-tile-loaded", state="attached")


def test_starting_and_ending_a_tool_does_not_move_the_map(open_page, people, two_scenes):
    page = open_page(people.bob, f"/projects/{people.a.pk}/map/")
    ready(page)
    before = page.locator("#map").bounding_box()

    page.click("[data-action=draw-landslide]")
    page.wait_for_function("document.getElementById('mode').textContent.length > 20")
    during = page.locator("#map").bounding_box()
    page.keyboard.press("Escape")
    page.wait_for_function("document.getElementById('mode').textContent === ''")
    after = page.locator("#map").bounding_box()

    assert during == before and after == before
    assert page.errors == []


def test_one_wheel_notch_is_one_zoom_level(open_page, people, two_scenes):
    page = open_page(people.bob, f"/projects/{people.a.pk}/map/")
    ready(page)
    zoom = page.evaluate("scarp.map.getZoom()")
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.evaluate("window.zoomed = false; scarp.map.once('zoomend', () => (window.zoomed = true))")
    page.mouse.wheel(0, -100)
    # Bounded: the first full run waited for ever on an unbounded promise of this zoomend.
    page.wait_for_function("window.zoomed === true", timeout=10_000)
    page.wait_for_timeout(400)  # a second step would follow within Leaflet's debounce
    assert page.evaluate("scarp.map.getZoom()") == zoom + 1
    assert page.errors == []


def test_choosing_a_scene_shows_it(open_page, people, two_scenes):
    a, b = two_scenes
    page = open_page(people.bob, f"/projects/{people.a.pk}/map/")
    ready(page)
    assert page.locator("#base-scene").input_value() == str(a.pk)

    page.select_option("#base-scene", str(b.pk))
    west, south, east, north = b.footprint.extent
    # The map pans there with an animation: wait for it to end on B (bounded), then look.
    page.wait_for_function(
        "([w, s, e, n]) => { const c = scarp.map.getCenter();"
        " return w < c.lng && c.lng < e && s < c.lat && c.lat < n; }",
        arg=[west, south, east, north],
        timeout=10_000,
    )
    centre = page.evaluate("(() => { const c = scarp.map.getCenter(); return [c.lng, c.lat]; })()")
    assert west < centre[0] < east and south < centre[1] < north
    assert page.errors == []


def test_a_dem_is_listed_by_its_kind_and_imagery_by_its_phase(
    open_page, people, two_scenes, tmp_path
):
    dem = np.linspace(1000, 1100, 64 * 64, dtype=np.float32).reshape(64, 64)
    path = write_geotiff(tmp_path / "dem.tif", dem, nodata=-9999)
    scene_import(project=people.a, source=path, name="Terrain", kind="dem")
    page = open_page(people.bob, f"/projects/{people.a.pk}/map/")
    ready(page)
    labels = page.locator("#base-scene option").all_inner_texts()
    assert "A · post-event" in labels and "Terrain · DEM" in labels
    assert not [label for label in labels if "Terrain" in label and "post" in label]

    page.goto(f"/projects/{people.a.pk}/")
    row = page.locator("tr", has_text="Terrain").first
    assert "Post" not in row.inner_text()
    assert page.errors == []


def test_polygons_stay_drawn_while_the_tiles_reload_after_a_save(open_page, people, two_scenes):
    inventory = people.a.inventories.get(name="Field mapping")
    page = open_page(people.bob, f"/projects/{people.a.pk}/map/")
    ready(page)
    (west, north), (east, south) = lonlat(page, 420, 220), lonlat(page, 570, 370)
    edited = make_landslide(
        inventory, geometry=MultiPolygon(Polygon.from_bbox((west, south, east, north)), srid=4326)
    )
    (west, north), (east, south) = lonlat(page, 150, 220), lonlat(page, 300, 370)
    make_landslide(
        inventory, geometry=MultiPolygon(Polygon.from_bbox((west, south, east, north)), srid=4326)
    )
    page.reload()
    ready(page)
    page.wait_for_function("document.querySelectorAll('.leaflet-landslides-pane path').length >= 2")
    select(page, edited)
    # From here on, count the tiled polygons on every frame: the neighbour must never vanish.
    page.evaluate(
        "window.fewest = Infinity; (function tick() {"
        " const n = document.querySelectorAll('.leaflet-landslides-pane path').length;"
        " window.fewest = Math.min(window.fewest, n); requestAnimationFrame(tick); })()"
    )
    drag(page, pixel(page, *corner(edited, 0)), (30, 25))
    wait_for(lambda: inventory.landslides.filter(pk=edited.pk, version=2).first())
    saved(page)
    page.wait_for_function("scarp.editor.refreshing.size === 0")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.fewest") >= 1
    assert page.errors == []
