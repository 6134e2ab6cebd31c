"""Background jobs on a real Celery worker: progress, outcome, lost workers, cancellation."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from inventories.models import Inventory, Job, Scene
from inventories.services.jobs import job_cancel
from inventories.tasks import job_run
from tests.conftest import wait_for
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_job


def uploads_left() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


@pytest.mark.django_db(transaction=True)
def test_an_uploaded_geotiff_is_imported_by_the_worker(people, api, celery_worker, tmp_path):
    image = write_geotiff(tmp_path / "post.tif", np.full((3, 300, 300), 120, dtype="uint8"))
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/",
        {"file": upload(image), "band_names": "red,green,blue", "phase": "post"},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job = wait_for(lambda: Job.objects.filter(pk=response.json()["id"], state="succeeded").first())
    assert job.progress == 1.0 and job.attempts == 1
    scene = Scene.objects.get(pk=job.result["scene_ids"][0])
    assert scene.original_filename == "post.tif" and scene.band_names == ["red", "green", "blue"]
    assert scene.path.exists()
    assert uploads_left() == []
    shown = api.alice.get(f"/api/jobs/{job.pk}/").json()
    assert shown["state"] == "succeeded" and "Stored 1 scene" in shown["log"]


@pytest.mark.django_db
def test_a_text_file_uploaded_as_tif_is_refused_at_once_and_nothing_is_kept(people, api):
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/",
        {"file": SimpleUploadedFile("notes.tif", b"just some text")},
        format="multipart",
    )
    assert response.status_code == 400
    assert "not a GeoTIFF" in response.json()["detail"]
    assert Job.objects.count() == 0 and Scene.objects.count() == 0
    assert uploads_left() == []


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_process_is_killed_is_retried_and_finishes(
    people, api, celery_worker, tmp_path
):
    rng = np.random.default_rng(1)
    image = write_geotiff(
        tmp_path / "big.tif", rng.integers(0, 4000, size=(4, 3000, 3000), dtype=np.uint16)
    )
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/", {"file": upload(image)}, format="multipart"
    )
    job_id = response.json()["id"]
    wait_for(lambda: Job.objects.filter(pk=job_id, state="running").exists(), interval=0.05)
    (child,) = children_of(celery_worker.pid)
    os.kill(child, signal.SIGKILL)
    job = wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).first(),
        timeout=120,
    )
    assert job.state == "succeeded", job.error
    assert job.attempts == 2
    assert "previous worker was lost" in job.log
    assert Scene.objects.filter(project=people.a).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_queued_job_cancelled_before_it_starts_never_runs(people, api, celery_worker, tmp_path):
    job = make_job(people.a, params={"upload": "uploads/none/upload.tif"})
    job_cancel(job=job, user=people.alice)
    job.refresh_from_db()
    assert job.state == "cancelled"
    job_run(job.pk, worker="test")
    job.refresh_from_db()
    assert job.state == "cancelled" and job.attempts == 0


@pytest.mark.django_db
def test_a_job_past_its_attempt_limit_is_marked_failed_not_left_running(people, settings):
    settings.SCARP_JOB_HEARTBEAT_SECONDS = 0.2
    job = make_job(
        people.a,
        state="running",
        attempts=settings.SCARP_JOB_MAX_ATTEMPTS,
        worker="first",
        lease="dead",
        heartbeat_at=timezone.now(),
    )
    job_run(job.pk, worker="another")
    job.refresh_from_db()
    assert job.state == "failed"
    assert "Gave up after" in job.error and job.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_inventory_with_one_broken_feature_fails_its_job_naming_it(
    people, api, celery_worker, tmp_path
):
    geojson = tmp_path / "slides.geojson"
    geojson.write_text(
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {"name": "good"}, "geometry": {"type": "Polygon", '
        '"coordinates": [[[98.68, 31.14], [98.681, 31.14], [98.681, 31.141], [98.68, 31.14]]]}},'
        '{"type": "Feature", "properties": {"name": "broken"}, "geometry": {"type": "LineString", '
        '"coordinates": [[98.68, 31.14], [98.681, 31.141]]}}]}'
    )
    response = api.bob.post(
        f"/api/projects/{people.a.pk}/inventories/upload/",
        {"file": upload(geojson), "name": "mixed"},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job = wait_for(lambda: Job.objects.filter(pk=response.json()["id"], state="failed").first())
    assert "feature 2" in job.error
    assert not Inventory.objects.filter(name="mixed").exists()
    assert uploads_left() == []


@pytest.mark.django_db(transaction=True)
def test_a_good_inventory_upload_is_imported(people, api, celery_worker, tmp_path):
    geojson = tmp_path / "slides.geojson"
    geojson.write_text(
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {"name": "one"}, "geometry": {"type": "Polygon", '
        '"coordinates": [[[98.68, 31.14], [98.681, 31.14], [98.681, 31.141], [98.68, 31.14]]]}}]}'
    )
    response = api.bob.post(
        f"/api/projects/{people.a.pk}/inventories/upload/",
        {"file": upload(geojson), "name": "drawn elsewhere"},
        format="multipart",
    )
    job = wait_for(lambda: Job.objects.filter(pk=response.json()["id"], state="succeeded").first())
    inventory = Inventory.objects.get(pk=job.result["inventory_id"])
    assert inventory.landslides.count() == 1
    assert inventory.landslides.get().attributes["name"] == "one"
