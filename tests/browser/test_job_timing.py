"""A training job on the jobs page says how far it is and about how long it has left before
its first epoch ends (real worker, real Chromium): an epoch on a CPU takes minutes, and the
page used to show nothing moving until it was over."""

from __future__ import annotations

import pytest

from inventories.models import Job, ModelVersion
from inventories.services.jobs import job_cancel
from tests.conftest import wait_for
from tests.factories.imported import import_generated_place
from tests.inventories.test_training import start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_training_shows_its_batches_and_time_left_before_the_first_epoch_ends(
    open_page, people, tmp_path, celery_worker
):
    places = import_generated_place(people.a, tmp_path / "data", size=256)
    # One long epoch: 400 chips of 64 px take tens of seconds on two cores.
    job = start(people.a, places, people.alice, epochs=2, chips_per_epoch=400, chip_size=64)
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    page = open_page(people.alice, f"/projects/{people.a.pk}/jobs/")
    row = page.locator(f'#jobs tr[data-job="{job.pk}"]')
    row.locator(".message", has_text="batch").wait_for(timeout=180_000)
    row.locator(".timing", has_text="left").wait_for(timeout=60_000)
    text = row.inner_text()
    version.refresh_from_db()
    assert version.metrics.get("history", []) == [], "the first epoch had already ended"
    assert "Epoch 1/2: batch" in text and "loss" in text
    assert "running for" in row.locator(".timing").inner_text()
    assert page.errors == []

    job_cancel(job=Job.objects.get(pk=job.pk), user=people.alice)
    wait_for(lambda: Job.objects.get(pk=job.pk).state not in ("queued", "running"), timeout=120)
    row.locator(".timing", has_text="took").wait_for(timeout=30_000)
