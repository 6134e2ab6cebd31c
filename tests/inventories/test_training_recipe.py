"""Training in the app with the recommended recipe: terrain inputs, 1 m pixels, polygons chosen
on validation, and the model page showing the figures of its own validation."""

from __future__ import annotations

import pytest

from inventories.models import Job, ModelVersion
from inventories.services.training import training_start
from tests.conftest import wait_for
from tests.factories.imported import import_generated_place


@pytest.mark.django_db(transaction=True)
def test_the_cpu_recipe_trains_on_terrain_and_the_model_page_shows_its_polygon_scores(
    people, api, celery_worker, tmp_path
):
    places = import_generated_place(people.a, tmp_path / "data", size=256)
    job = training_start(
        project=people.a, user=people.alice, name="recipe", places=places,
        arch="unet", encoder="none",
        hyperparameters={"epochs": 2, "chip_size": 32, "chips_per_epoch": 64, "scale": 2,
                         "encoder_depth": 3, "base_channels": 8},
    )  # fmt: skip
    job = wait_for(
        lambda: Job.objects.filter(pk=job.pk, state__in=["succeeded", "failed"]).first(),
        timeout=240,
    )
    assert job.state == "succeeded", job.error + job.log
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    assert version.hyperparameters["recipe"] == "cpu"
    spec = version.normalisation
    assert spec["scale"] == 2 and spec["derived"] == ["slope", "relief"]
    assert spec["dropped"] == ["elevation"]  # the DEM's band, named by the import
    assert 0 <= version.metrics["object_f1"] <= 1 and version.metrics["polygon_f1"] > 0.3
    post = version.metrics["postprocess"]
    assert version.metrics["threshold"] == post["threshold"]

    api.alice.force_login(people.alice)
    page = api.alice.get(f"/projects/{people.a.pk}/models/{version.pk}/").content.decode()
    assert "Polygons: object F1" in page and 'id="postprocess"' in page
    assert version.metrics["tta"] is True and "test-time flips" in page  # the recipe's choice
    assert f"{version.metrics['object_f1']:.3f}".rstrip("0").rstrip(".") in page
