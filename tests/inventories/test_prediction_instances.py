"""Prediction jobs with a Mask R-CNN model: one predicted landslide per detected instance."""

from __future__ import annotations

import shutil

import pytest
import shapely
from shapely import wkb

from inventories.models import Inventory, Job, ModelVersion, Scene
from inventories.services.files import media_path
from inventories.services.scenes import scene_import
from mlcore.raster import geotiff
from tests.factories.change_scenes import make_one_pair_scene
from tests.inventories.test_prediction import finished


@pytest.fixture
def version(tiny_maskrcnn, people):
    version = ModelVersion.objects.create(
        project=people.a, name="tiny instances", architecture="maskrcnn", encoder="none",
        status="ready", checkpoint_sha256=tiny_maskrcnn.checkpoint_sha256,
        directory="models/tiny-maskrcnn",
    )  # fmt: skip
    shutil.copytree(tiny_maskrcnn.out_dir, media_path(version.directory), dirs_exist_ok=True)
    return version


@pytest.fixture
def pair(people, tmp_path):
    """A scene holding one pair of touching landslides, imported into project A."""
    generated = make_one_pair_scene(tmp_path / "pair", seed=3)
    (scene,) = scene_import(
        project=people.a, source=generated.image, band_names=["red", "green", "blue"]
    )
    return scene, generated.shapes


def _utm(landslide) -> shapely.Geometry:
    geometry = landslide.geometry.transform(32647, clone=True)
    return wkb.loads(bytes(geometry.wkb))


@pytest.mark.django_db(transaction=True)
def test_a_mask_rcnn_job_stores_touching_landslides_as_separate_polygons(
    people, api, version, pair, celery_worker
):
    scene, shapes = pair
    response = api.alice.post(
        f"/api/models/{version.pk}/predict/", {"scenes": [scene.pk]}, format="json"
    )
    assert response.status_code == 202, response.content
    job = finished(response.json()["id"])
    assert job.state == "succeeded", job.error + job.log

    probability = Scene.objects.get(pk=job.result["probability_scene_id"])
    assert probability.kind == "probability" and geotiff.is_valid_cog(probability.path)
    inventory = Inventory.objects.get(pk=job.result["inventory_id"])
    assert inventory.kind == "predicted" and inventory.probability_scene == probability
    landslides = list(inventory.landslides.all())
    assert len(landslides) == 2  # vectorising the map would have joined them into one
    for landslide, reference in zip(
        sorted(landslides, key=lambda ls: _utm(ls).centroid.x),
        sorted(shapes, key=lambda s: s.centroid.x),
        strict=True,
    ):
        outline = _utm(landslide)
        iou = shapely.intersection(outline, reference).area / shapely.union(outline, reference).area
        assert iou > 0.5
        assert 0.5 < landslide.confidence <= 1


@pytest.mark.django_db
def test_a_split_mask_rcnn_prediction_is_refused_before_queuing(people, api, version, pair):
    scene, _ = pair
    response = api.alice.post(
        f"/api/models/{version.pk}/predict/", {"scenes": [scene.pk], "split": True}, format="json"
    )
    assert response.status_code == 400
    assert "start it without splitting" in response.json()["detail"]
    assert not Job.objects.exists()
