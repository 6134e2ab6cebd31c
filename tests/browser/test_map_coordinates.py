"""The pointer's coordinates on the map: geographic and projected (UTM), checked against pyproj.

The projection is computed in the page (static/js/map/utm.js); what counts is that
the easting and northing the status bar shows are where pyproj puts the same point.
"""

from __future__ import annotations

import re

import pytest
from pyproj import Transformer

from tests.browser.test_editor import map_url, project, ready
from tests.factories.rows import make_inventory, make_landslide, square

__all__ = ["project"]  # the fixture, shared with the editor's tests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOWN = re.compile(
    r"^(?P<lat>-?\d+\.\d{6})°, (?P<lon>-?\d+\.\d{6})° · "
    r"E (?P<e>\d+) N (?P<n>\d+) \(EPSG:(?P<epsg>\d+)\) · z\d+$"
)


def pointer_at(page, x: float, y: float) -> dict:
    """Move the mouse to map pixel (x, y) and read the status bar's coordinates."""
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    text = page.locator("#cursor").inner_text()
    match = SHOWN.match(text)
    assert match, text
    return {k: float(v) if k in ("lat", "lon") else int(v) for k, v in match.groupdict().items()}


def pyproj_utm(lat: float, lon: float, epsg: int) -> tuple[float, float]:
    return Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)


def test_the_pointer_shows_the_scenes_utm_coordinates_as_pyproj_has_them(
    open_page, people, project
):
    page = open_page(people.bob, map_url(project))
    ready(page)
    for x, y in [(200, 150), (640, 360), (900, 520)]:
        shown = pointer_at(page, x, y)
        assert shown["epsg"] == 32647  # the scene's own CRS (tests.factories.rasters.UTM47N)
        easting, northing = pyproj_utm(shown["lat"], shown["lon"], 32647)
        assert abs(shown["e"] - easting) <= 1.0 and abs(shown["n"] - northing) <= 1.0
    assert page.errors == []


def test_without_a_scene_the_pointer_is_projected_in_the_zone_it_lies_in(open_page, people):
    """Project B has no imagery, only a landslide in Cape Town (UTM 34 South)."""
    make_landslide(make_inventory(people.b, "Field"), geometry=square(lon=18.42, lat=-33.92))
    page = open_page(people.charlie, f"/projects/{people.b.pk}/map/")
    page.wait_for_function("window.scarp && window.scarp.editor.inventory !== null")
    shown = pointer_at(page, 300, 300)
    assert shown["epsg"] == 32734
    easting, northing = pyproj_utm(shown["lat"], shown["lon"], 32734)
    assert abs(shown["e"] - easting) <= 1.0 and abs(shown["n"] - northing) <= 1.0
    assert page.errors == []


POINTS = [  # lat, lon, zone: across zones, both hemispheres, a zone's edges, Norway's 32V
    (31.14, 98.68, 32647),
    (31.14, 101.99, 32647),
    (-33.92, 18.42, 32734),
    (-0.01, -78.5, 32717),
    (60.39, 5.32, 32632),
    (78.22, 15.65, 32633),
    (64.0, -21.9, 32627),
    (35.68, 139.77, 32654),
]


def test_the_page_projection_matches_pyproj_to_a_millimetre(open_page, people, project):
    page = open_page(people.bob, map_url(project))
    ready(page)
    results = page.evaluate(
        """async (points) => {
          const utm = await import("/static/js/map/utm.js");
          return points.map(([lat, lon]) => {
            const epsg = utm.zoneOfPoint(lat, lon);
            const { easting, northing } = utm.toUtm(lat, lon, epsg);
            return [epsg, easting, northing];
          });
        }""",
        [[lat, lon] for lat, lon, _ in POINTS],
    )
    for (lat, lon, zone), (epsg, easting, northing) in zip(POINTS, results, strict=True):
        assert epsg == zone, (lat, lon)
        expected = pyproj_utm(lat, lon, zone)
        assert easting == pytest.approx(expected[0], abs=1e-3), (lat, lon)
        assert northing == pytest.approx(expected[1], abs=1e-3), (lat, lon)
