"""kill -9 of the worker while it stores an inventory import: retried, stored once, nothing left.

The scene import, training and pretraining have their own kill tests
(test_jobs, test_job_faults, test_training, test_pretraining); this is the
inventory import of issue #19's list: the landslides are written in one
transaction, so the killed attempt stores none and the next one stores each
landslide once, and the upload goes when the job ends.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from inventories.models import Inventory, Job, Landslide
from tests.conftest import wait_for
from tests.inventories.test_jobs import children_of, upload, uploads_left

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
    (child,) = children_of(celery_worker.pid)
    os.kill(child, signal.SIGKILL)

    job = wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).first(),
        timeout=300,
    )
    assert job.state == "succeeded", job.error + job.log
    assert job.attempts == 2 and "previous worker was lost" in job.log
    (inventory,) = Inventory.objects.filter(project=people.a, name="Survey")
    assert Landslide.objects.filter(inventory=inventory).count() == count
    assert uploads_left() == []
