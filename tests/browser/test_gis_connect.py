"""From the browser into a GIS: the project page's token and address feed ogr2ogr, and the
model page's "Download as ONNX" gives a file onnxruntime runs.

A person copies the address and the token shown on the page into QGIS; the
test does the same with Debian's ogr2ogr (QGIS's own GDAL driver), then opens
what it wrote.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pyogrio
import pytest

from tests.browser.test_exports import downloaded
from tests.factories.gdal_client import ogr2ogr
from tests.factories.rows import make_inventory, make_landslide, square
from tests.inventories.test_model_onnx import trained, version  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_token_and_address_on_the_page_let_ogr2ogr_copy_an_inventory(
    open_page, people, tmp_path
):
    inventory = make_inventory(people.a, "Walked <b>survey</b>")
    for i in range(3):
        make_landslide(inventory, geometry=square(lon=98.6 + 0.01 * i), notes=f"scar {i}")
    page = open_page(people.bob, f"/projects/{people.a.pk}/")
    address = page.locator('#gis code[data-gis="ogc"]').inner_text()
    page.locator("#show-token").click()
    token = page.locator("#api-token")
    token.wait_for(state="visible", timeout=10_000)

    out = tmp_path / "copy.gpkg"
    done = ogr2ogr(f"OAPIF:{address}", out, token=token.inner_text(), user="bob",
                   layer=str(inventory.pk))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(pyogrio.read_dataframe(out)["notes"]) == ["scar 0", "scar 1", "scar 2"]
    assert page.errors == []


def test_replacing_the_token_asks_first_and_then_the_old_one_stops_working(
    open_page, people, tmp_path
):
    make_landslide(make_inventory(people.a, "Field"), geometry=square(lon=98.6))
    page = open_page(people.bob, f"/projects/{people.a.pk}/")
    address = page.locator('#gis code[data-gis="ogc"]').inner_text()
    page.locator("#show-token").click()
    shown = page.locator("#api-token")
    shown.wait_for(state="visible", timeout=10_000)
    old = shown.inner_text()

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#renew-token").click()
    page.wait_for_timeout(300)
    assert shown.inner_text() == old  # dismissed: nothing changed

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#renew-token").click()
    page.wait_for_function(
        "old => document.getElementById('api-token').textContent !== old", arg=old, timeout=10_000
    )
    new = shown.inner_text()
    refused = ogr2ogr(f"OAPIF:{address}", tmp_path / "old.gpkg", token=old, user="bob")
    assert refused.returncode != 0
    copied = ogr2ogr(f"OAPIF:{address}", tmp_path / "new.gpkg", token=new, user="bob")
    assert copied.returncode == 0, copied.stderr
    assert page.errors == []


def test_download_as_onnx_on_the_model_page_gives_a_model_onnxruntime_runs(
    open_page,
    people,
    version,  # noqa: F811 - the fixture imported above
    celery_worker,
    tmp_path,
):
    page = open_page(people.bob, f"/projects/{people.a.pk}/models/{version.pk}/")
    page.locator("#onnx a[data-export='ONNX']").click()  # the first time: a job writes it
    ready = page.locator("#onnx a.export-ready")
    ready.wait_for(timeout=240_000)
    path = downloaded(page, ready.click, tmp_path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probability,) = session.run(None, {"input": np.zeros((1, 4, 64, 64), np.float32)})
    assert probability.shape == (1, 1, 64, 64)
    assert ((probability >= 0) & (probability <= 1)).all()

    page.reload()  # now the file is there: the link is a plain download
    again = tmp_path / "again"
    again.mkdir()
    path = downloaded(page, page.locator("#onnx a[data-export='ONNX']").click, again)
    assert path.stat().st_size > 0
    assert page.errors == []
