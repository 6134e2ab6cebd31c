"""Pretraining on unlabelled imagery as a job, and training that starts from it."""

from __future__ import annotations

import json
import os
import signal

import pytest

from inventories.errors import InvalidInput
from inventories.models import Job, ModelVersion
from inventories.services.files import media_path
from inventories.services.jobs import job_cancel
from inventories.services.prediction import prediction_start
from inventories.services.pretraining import pretraining_start
from inventories.services.training import model_promote, model_retrain, training_start
from inventories.tasks import job_run
from tests.conftest import wait_for
from tests.factories.imported import NETWORK, PRETRAIN, import_generated_place, start_pretraining
from tests.inventories.test_jobs import children_of

TRAIN = {"epochs": 1, "batch_size": 8, "chip_size": 32, "chips_per_epoch": 16, **NETWORK}


@pytest.fixture
def project_with_data(people, tmp_path):
    """Imagery, a DEM and a small labelled inventory, imported the way a user would."""
    return people.a, import_generated_place(people.a, tmp_path / "data", size=128)


def start_training(project, places, user, pretrained, **hyper) -> Job:
    return training_start(
        project=project,
        user=user,
        name="tuned",
        places=places,
        arch="unet",
        encoder="none",
        hyperparameters={**TRAIN, **hyper},
        pretrained=pretrained,
    )


def finish(job: Job) -> Job:
    ended = ["succeeded", "failed", "cancelled"]
    return wait_for(lambda: Job.objects.filter(pk=job.pk, state__in=ended).first(), timeout=240)


@pytest.fixture
def pretrained(project_with_data, people, settings) -> ModelVersion:
    """A ready pretraining, run in this process (its job is never queued: no commit)."""
    settings.SCARP_TRAIN_LOADER_WORKERS = 0
    settings.SCARP_TRAIN_DEVICE = "cpu"
    project, places = project_with_data
    job = start_pretraining(project, places, people.alice)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == "succeeded", job.error + job.log
    return ModelVersion.objects.get(pk=job.params["model_version"])


@pytest.mark.django_db(transaction=True)
def test_a_pretraining_runs_to_ready_and_a_training_fine_tunes_from_it(
    project_with_data, people, api, celery_worker
):
    project, places = project_with_data
    job = finish(start_pretraining(project, places, people.alice))
    assert job.state == "succeeded", job.error + job.log
    assert job.kind == "pretrain" and job.queue == "gpu"
    assert "reconstruction loss" in job.log
    pre = ModelVersion.objects.get(pk=job.params["model_version"])
    assert pre.kind == "pretraining" and pre.status == "ready"
    assert [h["epoch"] for h in pre.metrics["history"]] == [1, 2]
    assert all(h["loss"] > 0 for h in pre.metrics["history"])
    assert len(pre.checkpoint_sha256) == 64
    assert pre.input_bands[:3] == ["red", "green", "blue"] and len(pre.input_bands) == 4
    assert pre.pretraining["method"] == "masked" and pre.pretraining["epochs_run"] == 2

    job = finish(start_training(project, places, people.alice, pre))
    assert job.state == "succeeded", job.error + job.log
    tuned = ModelVersion.objects.get(pk=job.params["model_version"])
    assert tuned.status == "ready" and tuned.kind == "segmentation"
    assert tuned.pretrained_from == pre
    assert tuned.pretraining["sha256"] == pre.checkpoint_sha256
    written = json.loads((media_path(tuned.directory) / "config.json").read_text())
    assert written["train"]["pretraining"]["sha256"] == pre.checkpoint_sha256

    body = api.alice.get(f"/api/models/{tuned.pk}/").json()
    assert body["kind"] == "segmentation" and body["pretrained_from"] == pre.pk
    assert body["pretraining"]["sha256"] == pre.checkpoint_sha256
    api.alice.force_login(people.alice)
    page = api.alice.get(f"/projects/{project.pk}/models/{tuned.pk}/")
    assert page.status_code == 200 and pre.name.encode() in page.content


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_pretraining_ends_cancelled_and_so_does_its_version(
    project_with_data, people, celery_worker
):
    project, places = project_with_data
    job = start_pretraining(project, places, people.alice, epochs=50)
    version_pk = job.params["model_version"]
    wait_for(
        lambda: ModelVersion.objects.get(pk=version_pk).metrics.get("history"),
        timeout=120,
        interval=0.1,
    )
    job_cancel(job=job, user=people.alice)
    job = finish(job)
    assert job.state == "cancelled"
    assert (
        ModelVersion.objects.get(pk=version_pk).status == "cancelled"
    )  # a cancelled version says so (#14, #19)


@pytest.mark.django_db(transaction=True)
def test_a_killed_pretraining_worker_resumes_from_the_last_epoch(
    project_with_data, people, celery_worker
):
    project, places = project_with_data
    job = start_pretraining(project, places, people.alice, epochs=3, chips_per_epoch=96)
    version_pk = job.params["model_version"]
    wait_for(
        lambda: ModelVersion.objects.get(pk=version_pk).metrics.get("history"),
        timeout=120,
        interval=0.1,
    )
    (child,) = children_of(celery_worker.pid)
    os.kill(child, signal.SIGKILL)
    job = finish(job)
    assert job.state == "succeeded", job.error + job.log
    assert job.attempts == 2 and "Resuming after epoch" in job.log
    history = ModelVersion.objects.get(pk=version_pk).metrics["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


@pytest.mark.django_db
def test_a_mismatching_network_is_refused_before_any_row(pretrained, project_with_data, people):
    project, places = project_with_data
    rows = (ModelVersion.objects.count(), Job.objects.count())
    with pytest.raises(InvalidInput, match="fine-tune the same network") as refused:
        start_training(project, places, people.alice, pretrained, encoder_depth=2)
    assert str(media_path(pretrained.directory)) not in str(refused.value)
    with pytest.raises(InvalidInput, match="bands"):
        start_training(project, [places[0][:1]], people.alice, pretrained)
    assert (ModelVersion.objects.count(), Job.objects.count()) == rows


@pytest.mark.django_db
def test_only_a_ready_pretraining_of_the_project_is_a_starting_point(
    pretrained, project_with_data, people
):
    project, places = project_with_data
    ModelVersion.objects.filter(pk=pretrained.pk).update(status="training")
    pretrained.refresh_from_db()
    with pytest.raises(InvalidInput, match="not ready"):
        start_training(project, places, people.alice, pretrained)
    segmentation = ModelVersion.objects.create(
        project=project, name="seg", architecture="unet", status="ready"
    )
    with pytest.raises(InvalidInput, match="not a pretraining"):
        start_training(project, places, people.alice, segmentation)


@pytest.mark.django_db
def test_a_pretraining_cannot_be_promoted_predicted_with_or_retrained(pretrained, people, api):
    with pytest.raises(InvalidInput, match="cannot be promoted"):
        model_promote(version=pretrained, user=people.alice)
    scenes = pretrained.data_snapshot["places"][0]
    with pytest.raises(InvalidInput, match="maps no landslides"):
        prediction_start(version=pretrained, scene_ids=[s["id"] for s in scenes], user=people.alice)
    with pytest.raises(InvalidInput, match="nothing to retrain"):
        model_retrain(parent=pretrained, user=people.alice)
    response = api.alice.post(f"/api/models/{pretrained.pk}/promote/")
    assert response.status_code == 400 and "pretraining" in response.json()["detail"]
    assert not ModelVersion.objects.filter(promoted=True).exists()


@pytest.mark.django_db
def test_retraining_a_fine_tuned_model_keeps_its_pretraining(pretrained, project_with_data, people):
    project, places = project_with_data
    job = start_training(project, places, people.alice, pretrained)
    tuned = ModelVersion.objects.get(pk=job.params["model_version"])
    ModelVersion.objects.filter(pk=tuned.pk).update(status="ready")
    tuned.refresh_from_db()
    child = ModelVersion.objects.get(
        pk=model_retrain(parent=tuned, user=people.alice).params["model_version"]
    )
    assert child.parent == tuned and child.pretrained_from == pretrained
    assert child.pretraining["sha256"] == pretrained.checkpoint_sha256


@pytest.mark.django_db
def test_a_training_whose_pretraining_was_deleted_fails_with_why_and_leaves_no_version_training(
    pretrained, project_with_data, people, settings
):
    project, places = project_with_data
    job = start_training(project, places, people.alice, pretrained)
    pretrained.delete()
    job_run(job.pk)
    job.refresh_from_db()
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    assert job.state == "failed" and "was deleted" in job.error
    assert version.status == "failed" and version.pretraining  # the record is kept


REFUSED = [
    ({"method": "inpainting"}, "Unknown pretraining method"),
    ({"hyperparameters": {"dropout": 0.1}}, "Unknown pretraining option"),
    ({"hyperparameters": {"epochs": "ten"}}, "must be a number"),
    ({"hyperparameters": {"chip_size": 256}}, "smaller than one 256 px chip"),
    ({"hyperparameters": {"chip_size": 64, "patch_size": 48}}, "multiple of 16"),
    ({"arch": "maskrcnn"}, "Mask R-CNN"),
    ({"encoder": "vgg"}, "supported encoders"),
    ({"places": [[999999]]}, "No scene 999999"),
]


@pytest.mark.django_db
def test_bad_pretraining_requests_are_refused_and_create_nothing(project_with_data, people):
    project, places = project_with_data
    for change, message in REFUSED:  # one project for all: importing it is the slow part
        request = {
            "project": project,
            "user": people.alice,
            "name": "bad",
            "places": places,
            "arch": "unet",
            "encoder": "none",
            "method": "masked",
            "hyperparameters": dict(PRETRAIN),
            **change,
        }
        with pytest.raises(InvalidInput, match=message):
            pretraining_start(**request)
    assert not ModelVersion.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_only_an_admin_starts_pretraining_through_the_api(project_with_data, people, api):
    project, places = project_with_data
    body = {"project": project.pk, "places": places, "arch": "unet", "encoder": "none"}
    body |= {"method": "denoising", "hyperparameters": {**PRETRAIN, "noise_std": 0.2}}
    assert api.bob.post("/api/models/pretrain/", body, format="json").status_code == 403
    assert api.rita.post("/api/models/pretrain/", body, format="json").status_code == 403
    assert api.charlie.post("/api/models/pretrain/", body, format="json").status_code == 404
    assert not ModelVersion.objects.exists() and not Job.objects.exists()

    response = api.alice.post("/api/models/pretrain/", body, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["kind"] == "pretrain" and response.json()["queue"] == "gpu"
    version = api.alice.get(f"/api/models/{response.json()['params']['model_version']}/").json()
    assert version["kind"] == "pretraining" and version["status"] == "training"
    assert version["pretraining"]["method"] == "denoising"
    assert version["pretraining"]["noise_std"] == 0.2
    bad = api.alice.post("/api/models/pretrain/", {**body, "method": "x"}, format="json")
    assert bad.status_code == 400


@pytest.mark.django_db
def test_training_through_the_api_names_its_pretraining_by_id(
    pretrained, project_with_data, people, api
):
    project, places = project_with_data
    body = {"project": project.pk, "places": places, "arch": "unet", "encoder": "none"}
    body["hyperparameters"] = TRAIN
    other = ModelVersion.objects.create(
        project=people.b, name="theirs", architecture="unet", kind="pretraining", status="ready"
    )
    refused = api.alice.post("/api/models/", {**body, "pretrained": other.pk}, format="json")
    assert refused.status_code == 400 and "No model version" in refused.json()["detail"]

    response = api.alice.post("/api/models/", {**body, "pretrained": pretrained.pk}, format="json")
    assert response.status_code == 202, response.json()
    version = api.alice.get(f"/api/models/{response.json()['params']['model_version']}/").json()
    assert version["pretrained_from"] == pretrained.pk
    assert version["pretraining"]["sha256"] == pretrained.checkpoint_sha256


@pytest.mark.django_db
def test_the_model_pages_show_pretrainings_and_offer_them_to_training(
    pretrained, project_with_data, people, client
):
    project, places = project_with_data
    start_training(project, places, people.alice, pretrained)
    client.force_login(people.alice)
    page = client.get(f"/projects/{project.pk}/models/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pretrain on unlabelled imagery" in html and 'id="pretrain-form"' in html
    assert f'<option value="{pretrained.pk}"' in html  # offered as a starting point
    assert "pretraining (masked)" in html and "from <a href" in html
    detail = client.get(f"/projects/{project.pk}/models/{pretrained.pk}/")
    assert detail.status_code == 200 and b"Reconstruction loss" in detail.content
    assert b"predict-form" not in detail.content

    client.force_login(people.bob)
    page = client.get(f"/projects/{project.pk}/models/")
    assert page.status_code == 200 and b"pretrain-form" not in page.content
