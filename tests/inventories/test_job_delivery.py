# ruff: noqa: F811 - fixtures imported from the prediction and training tests are arguments here
"""Deliveries of a job: leases instead of host names, heartbeats, one merge, lost messages.

Each test here failed before jobs took a lease per delivery: a duplicate on
the same host ran beside the first, a redelivery to another host was dropped,
a block delivered twice queued the merge twice, a job the broker never got
stayed queued for ever, and a cancelled training left its version training.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from inventories.models import Job, ModelVersion, Scene
from inventories.services.files import media_path
from inventories.services.jobs import jobs_reap, jobs_resend
from inventories.services.prediction import _config as _predict_config
from inventories.tasks import job_run
from tests.conftest import wait_for
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_job
from tests.inventories.test_jobs import upload
from tests.inventories.test_prediction import target_scenes, trained, version  # noqa: F401
from tests.inventories.test_training import project_with_data  # noqa: F401
from tests.inventories.test_training import start as start_training


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Point this process's Celery app at another broker (a down or a private one)."""
    from webapp.celery import app

    keys = ("broker_url", "broker_write_url", "broker_read_url")
    before = {key: app.conf[key] for key in keys}
    app.conf.update(dict.fromkeys(keys, url))
    app._after_fork()  # drops the cached connection and producer pools
    try:
        yield
    finally:
        app.conf.update(before)
        app._after_fork()


def beating(job_id: int, lease: str, stop: threading.Event) -> threading.Thread:
    """A live holder elsewhere: its heartbeat moves every 0.2 s until `stop`."""

    def beat() -> None:
        while not stop.wait(0.2):
            Job.objects.filter(pk=job_id, lease=lease).update(heartbeat_at=timezone.now())
        connection.close()

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_delivery_on_the_same_host_is_dropped_while_the_holder_beats(people, settings):
    settings.SCARP_JOB_HEARTBEAT_SECONDS = 1
    job = make_job(
        people.a, state="running", attempts=1, worker="gpu@host", lease="holder",
        heartbeat_at=timezone.now(), params={"upload": "uploads/none/upload.tif"},
    )  # fmt: skip
    stop = threading.Event()
    thread = beating(job.pk, "holder", stop)
    try:
        job_run(job.pk, worker="gpu@host")  # same host name as the holder
    finally:
        stop.set()
        thread.join()
    job.refresh_from_db()
    assert job.state == "running" and job.attempts == 1 and job.lease == "holder"


@pytest.mark.django_db(transaction=True)
def test_a_redelivery_to_another_worker_takes_over_a_job_whose_holder_died(
    people, settings, tmp_path
):
    settings.SCARP_JOB_HEARTBEAT_SECONDS = 1
    folder = Path(settings.MEDIA_ROOT) / "uploads" / "redelivered"
    folder.mkdir(parents=True)
    write_geotiff(folder / "upload.tif", np.full((3, 64, 64), 90, dtype="uint8"))
    job = make_job(
        people.a, state="running", attempts=1, worker="gpu@first-host", lease="dead",
        heartbeat_at=timezone.now(), params={"upload": "uploads/redelivered/upload.tif"},
    )  # fmt: skip
    job_run(job.pk, worker="gpu@second-host")  # the heartbeat never moves: the holder died
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert job.attempts == 2 and job.lease not in ("", "dead")
    assert job.worker == "gpu@second-host"
    assert Scene.objects.filter(project=people.a).count() == 1


@pytest.mark.django_db
def test_the_merge_of_a_split_prediction_is_queued_once_when_a_block_comes_twice(
    people, version, target_scenes, django_capture_on_commit_callbacks
):
    from inventories.services.prediction import block_predict
    from mlcore.predict.predictor import plan_blocks

    scene_ids, _ = target_scenes
    scenes = [Scene.objects.get(pk=pk) for pk in scene_ids]
    (block,) = plan_blocks(
        media_path(version.directory), [s.path for s in scenes], _predict_config()
    )
    job = make_job(
        people.a, kind="predict", state="running", lease="run1", heartbeat_at=timezone.now(),
        params={"model_version": version.pk, "scenes": scene_ids, "split": True},
        result={"blocks": 1, "done": []},
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as sent:
        block_predict(job.pk, block.to_dict(), "run1")
        block_predict(job.pk, block.to_dict(), "run1")  # delivered again after a lost ack
        block_predict(job.pk, block.to_dict(), "old-run")  # a block of a run taken over
    assert len(sent) == 1
    job.refresh_from_db()
    assert job.merge_queued and len(job.result["done"]) == 1
    assert job.log.count("merging") == 1


@pytest.mark.django_db
def test_cancelling_a_queued_training_cancels_its_model_version(project_with_data, people, api):
    project, places = project_with_data
    job = start_training(project, places, people.alice)
    response = api.alice.post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "cancelled"
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    assert version.status == "cancelled"


@pytest.mark.django_db
def test_a_queued_training_the_broker_keeps_losing_fails_and_so_does_its_version(
    project_with_data, people, settings
):
    project, places = project_with_data
    job = start_training(project, places, people.alice)  # never sent: on_commit never runs
    Job.objects.filter(pk=job.pk).update(
        sends=settings.SCARP_JOB_MAX_ATTEMPTS, sent_at=timezone.now() - dt.timedelta(hours=1)
    )
    jobs_reap()
    job.refresh_from_db()
    assert job.state == "failed" and "job queue lost or refused this job" in job.error
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    assert version.status == "failed"


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_the_broker_is_down_is_accepted_and_sent_once_it_is_back(
    people, api, celery_worker, tmp_path
):
    image = write_geotiff(tmp_path / "post.tif", np.full((3, 64, 64), 120, dtype="uint8"))
    with broker_at("redis://127.0.0.1:1/0"):  # nothing listens there
        response = api.alice.post(
            f"/api/projects/{people.a.pk}/scenes/upload/",
            {"file": upload(image), "band_names": "red,green,blue"},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.state == "queued" and job.celery_id == "" and job.sends == 1
    assert "Waiting for the job queue" in job.message
    assert jobs_resend(older_than=0) == 1  # what beat's reaper does once it is older
    job = wait_for(lambda: Job.objects.filter(pk=job.pk, state="succeeded").first())
    assert job.sends == 2 and "sent again" in job.log


@pytest.mark.django_db(transaction=True)
def test_the_reaper_leaves_a_training_alone_while_its_epoch_computes(
    project_with_data, people, celery_worker
):
    project, places = project_with_data
    job = start_training(project, places, people.alice, epochs=1, chips_per_epoch=480)
    wait_for(lambda: Job.objects.filter(pk=job.pk, state="running").exists(), interval=0.05)
    reaped = 0
    # While the one long epoch computes, nothing is reported; only the heartbeat thread beats.
    while Job.objects.filter(pk=job.pk, state="running").exists():
        reaped += jobs_reap(stale_seconds=3)
        threading.Event().wait(0.5)
    job.refresh_from_db()
    assert job.state == "succeeded", job.error + job.log
    assert reaped == 0 and job.attempts == 1 and "requeued" not in job.log
