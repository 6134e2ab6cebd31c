"""What a user sees: a 1440 x 900 screenshot of each main page, written on every run.

The pictures land in $SCARP_TEST_ARTIFACTS/pages/ (default
test-artifacts/pages/) so anyone can look at the pages without running the
app; the README shows copies. Each page must also load without a script
error and show its own heading, so a blank page fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import Inventory
from inventories.services.scenes import scene_import
from tests.browser.conftest import ARTIFACTS
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_inventory, make_landslide

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mapped(people, tmp_path):
    """Project A with an area of interest, an RGB scene, a reference inventory and a
    predicted one to review."""
    rng = np.random.default_rng(21)
    image = rng.integers(40, 200, size=(3, 512, 512), dtype=np.uint8)
    path = write_geotiff(tmp_path / "post.tif", image, nodata=0)
    (scene,) = scene_import(
        project=people.a, source=path, name="Post-event", band_names=["red", "green", "blue"]
    )
    west, south, east, north = scene.footprint.extent
    step = (east - west) / 10
    people.a.area_of_interest = MultiPolygon(
        Polygon.from_bbox((west - step, south - step, east + 2 * step, north + step)), srid=4326
    )
    people.a.save()
    reference = make_inventory(people.a, "Field mapping", kind=Inventory.Kind.REFERENCE)
    predicted = make_inventory(people.a, "Predicted", kind="predicted", source_scene=scene)
    for i in range(4):
        box = Polygon.from_bbox(
            (west + 2 * i * step, south + 4 * step, west + (2 * i + 1) * step, south + 5 * step)
        )
        make_landslide(reference, geometry=MultiPolygon(box, srid=4326), area_m2=2600.0)
        make_landslide(
            predicted, geometry=MultiPolygon(box, srid=4326), area_m2=2600.0,
            confidence=0.4 + 0.1 * i,
        )  # fmt: skip
    return predicted


PAGES = [
    ("projects", "/", "h1"),
    ("project", "/projects/{a}/", "h1"),
    ("map", "/projects/{a}/map/", ".leaflet-tile-loaded"),
    ("review", "/projects/{a}/inventories/{predicted}/review/", ".leaflet-tile-loaded"),
    ("review-dashboard", "/projects/{a}/inventories/{predicted}/review/dashboard/", "h1"),
    ("models", "/projects/{a}/models/", "h1"),
    ("jobs", "/projects/{a}/jobs/", "h1"),
    ("reports", "/projects/{a}/reports/", "h1"),
]


@pytest.mark.parametrize(("name", "path", "shown"), PAGES, ids=[p[0] for p in PAGES])
def test_each_main_page_is_photographed_at_1440_by_900(
    open_page, people, mapped, name, path, shown
):
    page = open_page(people.alice, path.format(a=people.a.pk, predicted=mapped.pk))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.wait_for_selector(shown, state="attached")
    page.wait_for_load_state("networkidle")
    folder = ARTIFACTS / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))
    assert (folder / f"{name}.png").stat().st_size > 10_000
    assert page.errors == []
