"""Training as a job on the real worker, the registry, promotion and retraining."""

from __future__ import annotations

import os
import signal

import pytest

from inventories.models import Job, ModelVersion
from inventories.services.inventories import inventory_import
from inventories.services.scenes import scene_import
from inventories.services.training import model_promote, model_retrain, training_start
from tests.conftest import wait_for
from tests.factories.imported import import_generated_place
from tests.factories.landslide_scenes import make_scene
from tests.inventories.test_jobs import children_of

TINY = {
    "epochs": 2,
    "batch_size": 8,
    "chip_size": 64,
    "chips_per_epoch": 96,
    "lr": 0.003,
    "encoder_depth": 3,
    "base_channels": 8,
    "scale": 1,  # the generated scenes are small: train on their own pixels
}


@pytest.fixture
def project_with_data(people, tmp_path):
    """A generated scene with learnable landslides, imported the way a user would."""
    return people.a, import_generated_place(people.a, tmp_path / "data", size=256)


def start(project, places, user, **hyper):
    return training_start(
        project=project,
        user=user,
        name="tiny",
        places=places,
        arch="unet",
        encoder="none",
        hyperparameters={**TINY, **hyper},
    )


@pytest.mark.django_db(transaction=True)
def test_training_on_the_worker_gives_a_ready_version_with_metrics_and_curves(
    project_with_data, people, api, celery_worker
):
    project, places = project_with_data
    job = start(project, places, people.alice)
    job = wait_for(
        lambda: Job.objects.filter(pk=job.pk, state__in=["succeeded", "failed"]).first(),
        timeout=240,
    )
    assert job.state == "succeeded", job.error + job.log
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    assert version.status == "ready"
    assert [h["epoch"] for h in version.metrics["history"]] == [1, 2]
    assert version.metrics["f1"] > 0.8
    assert version.input_bands[:3] == ["red", "green", "blue"] and len(version.input_bands) == 4
    assert len(version.checkpoint_sha256) == 64
    assert version.data_snapshot["inventories"][0]["extents"] == {"train": 1, "validation": 1}
    curves = api.alice.get(f"/api/models/{version.pk}/curves/")
    assert curves.status_code == 200 and curves["Content-Type"] == "image/png"
    api.alice.force_login(people.alice)
    page = api.alice.get(f"/projects/{project.pk}/models/{version.pk}/")
    assert page.status_code == 200 and b"Validation metrics" in page.content


@pytest.mark.django_db(transaction=True)
def test_a_killed_training_worker_resumes_from_the_last_epoch(
    project_with_data, people, celery_worker
):
    project, places = project_with_data
    job = start(project, places, people.alice, epochs=3, chips_per_epoch=96)
    version_pk = job.params["model_version"]

    def one_epoch_done():
        version = ModelVersion.objects.get(pk=version_pk)
        return len(version.metrics.get("history", [])) >= 1

    wait_for(one_epoch_done, timeout=240, interval=0.1)
    (child,) = children_of(celery_worker.pid)
    os.kill(child, signal.SIGKILL)
    job = wait_for(
        lambda: Job.objects.filter(pk=job.pk, state__in=["succeeded", "failed"]).first(),
        timeout=300,
    )
    assert job.state == "succeeded", job.error + job.log
    assert job.attempts == 2
    assert "Resuming after epoch" in job.log
    version = ModelVersion.objects.get(pk=version_pk)
    assert [h["epoch"] for h in version.metrics["history"]] == [1, 2, 3]


@pytest.mark.django_db
def test_only_an_admin_starts_training_and_outsiders_see_nothing(project_with_data, people, api):
    project, places = project_with_data
    body = {"project": project.pk, "places": places, "arch": "unet", "encoder": "none"}
    assert api.bob.post("/api/models/", body, format="json").status_code == 403
    assert api.charlie.post("/api/models/", body, format="json").status_code == 404
    assert not ModelVersion.objects.exists()
    version = ModelVersion.objects.create(project=project, name="v", architecture="unet")
    assert api.charlie.get(f"/api/models/{version.pk}/").status_code == 404
    assert api.charlie.get("/api/models/").json()["count"] == 0
    assert api.bob.post(f"/api/models/{version.pk}/retrain/").status_code == 403


@pytest.mark.django_db
def test_a_bad_architecture_is_refused_with_the_valid_names_and_nothing_is_queued(
    project_with_data, people, api
):
    project, places = project_with_data
    response = api.alice.post(
        "/api/models/",
        {"project": project.pk, "places": places, "arch": "vgg", "encoder": "none"},
        format="json",
    )
    assert response.status_code == 400
    assert "unet" in response.json()["detail"] and "segformer" in response.json()["detail"]
    assert not ModelVersion.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_training_needs_train_and_validation_extents(people, api, tmp_path):
    synthetic = make_scene(tmp_path / "data", size=64)
    (image,) = scene_import(project=people.a, source=synthetic.image)
    inventory_import(project=people.a, path=synthetic.landslides, name="No extents")
    response = api.alice.post(
        "/api/models/",
        {"project": people.a.pk, "places": [[image.pk]], "arch": "unet", "encoder": "none"},
        format="json",
    )
    assert response.status_code == 400
    assert "'train'" in response.json()["detail"]


@pytest.mark.django_db
def test_promotion_is_unique_and_retraining_makes_a_child_with_the_parents_config(
    project_with_data, people
):
    project, places = project_with_data
    first = ModelVersion.objects.get(
        pk=start(project, places, people.alice).params["model_version"]
    )
    second = ModelVersion.objects.get(
        pk=start(project, places, people.alice).params["model_version"]
    )
    ModelVersion.objects.filter(pk__in=[first.pk, second.pk]).update(status="ready")
    first.refresh_from_db()
    second.refresh_from_db()
    model_promote(version=first, user=people.alice)
    model_promote(version=second, user=people.alice)
    assert list(ModelVersion.objects.filter(promoted=True)) == [second]
    job = model_retrain(parent=second, user=people.alice)
    child = ModelVersion.objects.get(pk=job.params["model_version"])
    assert child.parent == second
    assert child.hyperparameters == second.hyperparameters
    assert child.architecture == "unet" and child.encoder == "none"
