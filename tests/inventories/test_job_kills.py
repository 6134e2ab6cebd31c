"""kill -9 of the worker while it stores an inventory import or writes a report: retried, once.

The scene import, training and pretraining have their own kill tests
(test_jobs, test_job_faults, test_training, test_pretraining); these are the
inventory import and the report of issue #19's list. The landslides are
written in one transaction, so the killed attempt stores none and the next
one stores each landslide once, and the upload goes when the job ends. A
report is written into a staging folder that a killed worker left behind
(reports/.staging-<job>-<random>, plots and layers half-written); now the
folder is noted in the job's journal and the attempt that takes over deletes
it, so the retry leaves one report and no temporary.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from django.conf import settings

from inventories.models import AccuracyReport, Inventory, Job, Landslide
from tests.conftest import wait_for
from tests.factories.rows import make_extent, make_inventory
from tests.inventories.test_jobs import children_of, upload, uploads_left
from tests.inventories.test_reports import X0, Y0, utm_square

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def many_squares(path, count: int):
    features = []
    for i in range(count):
        x, y = 98.6 + (i % 200) * 0.0005, 31.1 + (i // 200) * 0.0005
        ring = [[x, y], [x + 0.0003, y], [x + 0.0003, y + 0.0003], [x, y + 0.0003], [x, y]]
        features.append(
            {"type": "Feature", "properties": {"n": i},
             "geometry": {"type": "Polygon", "coordinates": [ring]}}
        )  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def killed_and_retried(celery_worker, job_id: int) -> Job:
    """kill -9 the worker's child now; the job, redelivered, must succeed on attempt 2."""
    (child,) = children_of(celery_worker.pid)
    os.kill(child, signal.SIGKILL)
    job = wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).first(),
        timeout=300,
    )
    assert job.state == "succeeded", job.error + job.log
    assert job.attempts == 2 and "previous worker was lost" in job.log
    return job


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_storing_an_inventory_import_stores_it_once_on_retry(
    people, api, celery_worker, tmp_path
):
    count = 20_000
    response = api.bob.post(
        f"/api/projects/{people.a.pk}/inventories/upload/",
        {"file": upload(many_squares(tmp_path / "slides.geojson", count)), "name": "Survey"},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    wait_for(
        lambda: Job.objects.filter(pk=job_id, message__startswith="Storing").exists(),
        timeout=240, interval=0.05,
    )  # fmt: skip
    killed_and_retried(celery_worker, job_id)
    (inventory,) = Inventory.objects.filter(project=people.a, name="Survey")
    assert Landslide.objects.filter(inventory=inventory).count() == count
    assert uploads_left() == []


def many_landslides(project, name: str, kind: str, count: int, shift: float) -> Inventory:
    """`count` 20 m squares on a 40 m grid in UTM 47N; the reference also has a test extent."""
    inventory = make_inventory(project, name, kind=kind)
    side = int(count**0.5) + 1
    Landslide.objects.bulk_create(
        Landslide(
            inventory=inventory,
            geometry=utm_square(X0 + 40 * (i % side) + shift, Y0 + 40 * (i // side), 20),
            area_m2=400.0,
        )
        for i in range(count)
    )
    if kind == "reference":
        make_extent(
            inventory, geometry=utm_square(X0 - 100, Y0 - 100, 40 * side + 200), split="test"
        )
    return inventory


def staging_started(media: Path) -> bool:
    """True once the report's staging folder holds a file: the report is being written."""
    folder = media / "reports"
    return folder.exists() and any(
        p.is_file() for s in folder.glob(".staging-*") for p in s.rglob("*")
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_writing_a_report_leaves_one_report_and_no_temporary(
    people, api, celery_worker
):
    reference = many_landslides(people.a, "Field mapping", "reference", 3000, 0.0)
    predicted = many_landslides(people.a, "Model output", "predicted", 3000, 5.0)
    response = api.alice.post(
        "/api/reports/", {"predicted": predicted.pk, "reference": reference.pk}, format="json"
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    media = Path(settings.MEDIA_ROOT)
    wait_for(lambda: staging_started(media), timeout=240, interval=0.02)
    job = killed_and_retried(celery_worker, job_id)
    (report,) = AccuracyReport.objects.filter(project=people.a)
    assert job.result == {"report_id": report.pk}
    assert report.figures["objects"]["tp"] == 3000
    left = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
    assert left and all(p.startswith(f"{report.directory}/") for p in left), left
    assert not list((media / "reports").glob(".*"))
