"""Accuracy reports in real headless Chromium: starting one from the form, its map of TP/FP/FN."""

from __future__ import annotations

import re

import numpy as np
import pytest

from inventories.models import AccuracyReport
from inventories.services.scenes import scene_import
from tests.conftest import client_for, wait_for
from tests.factories.rasters import write_geotiff
from tests.inventories.test_reports import X0, Y0, make_world, start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(people, tmp_path):
    """The hand-made world of the report tests, predicted on a real imported scene."""
    world = make_world(people.a)
    rng = np.random.default_rng(3)
    image = rng.integers(40, 200, size=(3, 1000, 1000), dtype=np.uint8)
    path = write_geotiff(tmp_path / "post.tif", image, nodata=0, origin=(X0, Y0 + 1000))
    (scene,) = scene_import(project=people.a, source=path, band_names=["red", "green", "blue"])
    world.predicted.source_scene = scene
    world.predicted.save()
    return world


def test_an_admin_starts_a_report_from_the_form_and_lands_on_it(
    open_page, people, world, celery_worker
):
    page = open_page(people.alice, f"/projects/{people.a.pk}/reports/")
    page.select_option("select[name=predicted]", str(world.predicted.pk))
    page.select_option("select[name=reference]", str(world.reference.pk))
    assert "test" in page.inner_text("#split-hint")
    page.fill("input[name=name]", "v1 from the form")
    page.click("#report-form button[type=submit]")
    page.wait_for_url(re.compile(r"/reports/\d+/$"), timeout=60_000)
    report = AccuracyReport.objects.get(name="v1 from the form")
    assert page.url.endswith(f"/projects/{people.a.pk}/reports/{report.pk}/")
    assert page.errors == []


def test_the_report_map_draws_tp_fp_and_fn_polygons(open_page, people, world, celery_worker):
    job = start(client_for(people.alice), world).json()
    report_id = wait_for(
        lambda: (
            AccuracyReport.objects.filter(figures__scarp__job_id=job["id"])
            .values_list("pk", flat=True)
            .first()
        )
    )
    page = open_page(people.bob, f"/projects/{people.a.pk}/reports/{report_id}/")
    page.wait_for_selector(".leaflet-tile-loaded", state="attached")
    # One matched prediction, one unmatched, one missed reference square.
    wait_for(lambda: page.evaluate(_COUNT) == {"tp": 1, "fp": 1, "fn": 1}, timeout=20)
    assert page.inner_text("#map-status") == ""
    assert page.errors == []


_COUNT = """() => Object.fromEntries(
  Object.entries(window.scarpReport.layers).map(([name, layer]) => [name, layer.getLayers().length])
)"""
