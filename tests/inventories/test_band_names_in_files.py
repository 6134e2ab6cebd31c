"""The band names a user gives are the scene's names in its stored COG too.

A scene is read outside the web app (mlcore's training and prediction, QGIS on
a downloaded COG); they see the file's band descriptions, so the names must be
written there, not only on the Scene row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from django.core.files.uploadedfile import SimpleUploadedFile

from inventories.models import Job, Scene
from mlcore.data import SceneSpec, StackedScene
from mlcore.raster import geotiff
from tests.conftest import wait_for
from tests.factories.rasters import write_geotiff


def upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


def imported(api, project, path: Path, **fields) -> list[Scene]:
    response = api.post(
        f"/api/projects/{project.pk}/scenes/upload/",
        {"file": upload(path), **fields},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job = wait_for(
        lambda: Job.objects.filter(
            pk=response.json()["id"], state__in=["succeeded", "failed"]
        ).first()
    )
    assert job.state == "succeeded", job.error
    return list(Scene.objects.filter(pk__in=job.result["scene_ids"]).order_by("pk"))


@pytest.mark.django_db(transaction=True)
def test_uploaded_band_names_are_the_cogs_band_descriptions(people, api, celery_worker, tmp_path):
    rng = np.random.default_rng(3)
    # The file's own descriptions say something else: the user's names win.
    image = write_geotiff(
        tmp_path / "pleiades.tif",
        rng.integers(1, 255, size=(4, 300, 300), dtype=np.uint8),
        band_names=["b1", "b2", "b3", "b4"],
    )
    (scene,) = imported(api.alice, people.a, image, band_names="red,green,blue,nir")
    assert scene.band_names == ["red", "green", "blue", "nir"]
    with rasterio.open(scene.path) as cog:
        assert cog.descriptions == ("red", "green", "blue", "nir")
    assert geotiff.is_valid_cog(scene.path)
    with StackedScene(SceneSpec([scene.path])) as stacked:
        assert stacked.band_names == ["red", "green", "blue", "nir"]


@pytest.mark.django_db(transaction=True)
def test_an_uploaded_dems_band_is_elevation_in_its_cog(people, api, celery_worker, tmp_path):
    yy, xx = np.mgrid[0:200, 0:200].astype("float32")
    dem = write_geotiff(tmp_path / "srtm.tif", 1000 + 0.5 * xx + 0.2 * yy, nodata=-9999.0)
    scenes = imported(api.alice, people.a, dem, kind="dem")
    by_kind = {s.kind: s for s in scenes}
    for kind, band in [("dem", "elevation"), ("slope", "slope"), ("hillshade", "hillshade")]:
        with rasterio.open(by_kind[kind].path) as cog:
            assert cog.descriptions == (band,)
        assert geotiff.is_valid_cog(by_kind[kind].path)
    with StackedScene(SceneSpec([by_kind["dem"].path, by_kind["slope"].path])) as stacked:
        assert stacked.band_names == ["elevation", "slope"]
