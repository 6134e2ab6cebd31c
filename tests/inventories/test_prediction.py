"""Prediction jobs: a model maps a scene into a probability layer and a predicted inventory."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from inventories.models import Inventory, Job, ModelVersion, Scene
from inventories.services.files import media_path
from inventories.services.scenes import scene_import
from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.models.registry import ModelConfig
from mlcore.raster import geotiff
from mlcore.training.config import TrainConfig
from mlcore.training.segmentation import train
from tests.conftest import wait_for
from tests.factories.landslide_scenes import make_scene


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny model trained once on a generated scene (image + DEM), and a larger scene to map."""
    root = tmp_path_factory.mktemp("prediction")
    synthetic = make_scene(root / "train", size=256)
    spec = SceneSpec([synthetic.image, synthetic.dem])
    labelled = label_scenes(
        [spec], [read_vector(synthetic.landslides)], [read_vector(synthetic.extents)]
    )
    model = ModelConfig(
        arch="unet", encoder="none", in_channels=4, encoder_depth=3, base_channels=8
    )
    config = TrainConfig(
        model=model, epochs=3, batch_size=8, chip_size=64, lr=3e-3, chips_per_epoch=128,
        num_workers=0, device="cpu",
    )  # fmt: skip
    result = train(config, labelled, labelled, root / "model")
    target = make_scene(root / "target", size=384, seed=5, blobs=20)
    return root / "model", result.checkpoint_sha256, target


@pytest.fixture
def version(trained, people):
    model_dir, sha, _ = trained
    version = ModelVersion.objects.create(
        project=people.a, name="tiny", architecture="unet", encoder="none",
        status="ready", checkpoint_sha256=sha, directory="models/tiny",
    )  # fmt: skip
    shutil.copytree(model_dir, media_path("models/tiny"), dirs_exist_ok=True)
    return version


@pytest.fixture
def target_scenes(trained, people):
    _, _, target = trained
    (image,) = scene_import(
        project=people.a, source=target.image, band_names=["red", "green", "blue"]
    )
    dem = scene_import(project=people.a, source=target.dem, kind="dem")[0]
    return [image.pk, dem.pk], target


def finished(job_id: int) -> Job:
    return wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).first(),
        timeout=240,
    )


@pytest.mark.django_db(transaction=True)
def test_a_prediction_job_maps_the_scene_into_a_probability_layer_and_polygons(
    people, api, version, target_scenes, celery_worker
):
    scene_ids, target = target_scenes
    response = api.alice.post(
        f"/api/models/{version.pk}/predict/", {"scenes": scene_ids}, format="json"
    )
    assert response.status_code == 202, response.content
    job = finished(response.json()["id"])
    assert job.state == "succeeded", job.error + job.log
    probability = Scene.objects.get(pk=job.result["probability_scene_id"])
    assert probability.kind == "probability" and geotiff.is_valid_cog(probability.path)
    inventory = Inventory.objects.get(pk=job.result["inventory_id"])
    assert inventory.kind == "predicted" and inventory.model_version == version
    assert inventory.probability_scene == probability
    # The model finds the generated landslides: most of the mask is covered by probability.
    with rasterio.open(probability.path) as src:
        prob = src.read(1)
    found = (prob >= 127) & (prob != 255)
    recall = (found & (target.mask == 1)).sum() / target.mask.sum()
    precision = (found & (target.mask == 1)).sum() / max(found.sum(), 1)
    assert recall > 0.7 and precision > 0.7
    landslides = list(inventory.landslides.all())
    assert len(landslides) >= 10
    assert all(0 < ls.confidence <= 1 and ls.area_m2 > 0 for ls in landslides)
    # Drawn by the model, not by alice: she may review them herself.
    assert all(ls.created_by is None for ls in landslides)


@pytest.mark.django_db(transaction=True)
def test_a_split_prediction_over_workers_equals_a_single_run(
    people, api, version, target_scenes, celery_worker, settings
):
    scene_ids, _ = target_scenes
    single = finished(
        api.alice.post(
            f"/api/models/{version.pk}/predict/", {"scenes": scene_ids}, format="json"
        ).json()["id"]
    )
    assert single.state == "succeeded", single.error
    # Small blocks so the scene really splits; the worker process reads the same setting.
    split = finished(
        api.alice.post(
            f"/api/models/{version.pk}/predict/",
            {"scenes": scene_ids, "split": True},
            format="json",
        ).json()["id"]
    )
    assert split.state == "succeeded", split.error + split.log
    blocks = int(re.search(r"Split into (\d+) blocks", split.log).group(1))
    assert blocks > 1
    one, many = (Scene.objects.get(pk=j.result["probability_scene_id"]) for j in (single, split))
    with rasterio.open(one.path) as a, rasterio.open(many.path) as b:
        assert np.array_equal(a.read(1), b.read(1))
    assert single.result["landslides"] == split.result["landslides"]
    assert not Path(media_path(f"jobs/{split.pk}")).exists()


@pytest.mark.django_db
def test_a_scene_without_the_models_bands_is_refused_before_queuing(people, api, version, tmp_path):
    synthetic = make_scene(tmp_path / "other", size=64)
    (image,) = scene_import(project=people.a, source=synthetic.image)
    response = api.alice.post(
        f"/api/models/{version.pk}/predict/", {"scenes": [image.pk]}, format="json"
    )
    assert response.status_code == 400
    assert "band" in response.json()["detail"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_only_an_admin_predicts_and_an_outsider_sees_nothing(people, api, version, target_scenes):
    scene_ids, _ = target_scenes
    url = f"/api/models/{version.pk}/predict/"
    assert api.bob.post(url, {"scenes": scene_ids}, format="json").status_code == 403
    assert api.charlie.post(url, {"scenes": scene_ids}, format="json").status_code == 404
    assert not Job.objects.exists()
