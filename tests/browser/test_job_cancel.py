"""Cancelling a running training asks first (issue #14, item 3), in real headless Chromium.

A real training runs on the real Celery worker; the admin opens the jobs
list, sees the job running with its progress and message, presses Cancel,
is asked in the page, keeps it running, then asks again and cancels it.
"""

from __future__ import annotations

import pytest

from inventories.models import Job, ModelVersion
from tests.conftest import wait_for
from tests.factories.imported import import_generated_place
from tests.inventories.test_pretraining import finish
from tests.inventories.test_training import start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def running_training(people, tmp_path, celery_worker) -> Job:
    """A training long enough (50 epochs) to be cancelled while it runs."""
    places = import_generated_place(people.a, tmp_path / "data", size=256)
    job = start(people.a, places, people.alice, epochs=50)
    job = wait_for(
        lambda: (
            Job.objects.filter(pk=job.pk)
            .exclude(state="queued")
            .exclude(state="running", message="")
            .first()
        ),
        timeout=120,
        interval=0.1,
    )
    assert job.state == "running", job.error + job.log
    return job


def test_cancel_asks_first_and_keeping_it_leaves_the_training_running(
    open_page, people, running_training
):
    job = running_training
    page = open_page(people.alice, f"/projects/{people.a.pk}/jobs/")
    row = page.locator(f"#jobs tr[data-job='{job.pk}']")
    assert row.locator(".state").inner_text().lower() == "running"
    assert row.locator(".message").inner_text().strip() != ""
    assert row.locator(".percent").inner_text().endswith("%")

    dialog = page.locator("#confirm-dialog")
    row.locator("button.cancel").click()
    dialog.wait_for(state="visible", timeout=5_000)
    assert f"Job {job.pk} (Train model) is running" in dialog.inner_text()
    dialog.locator("button[value=keep]").click()
    dialog.wait_for(state="hidden", timeout=5_000)
    page.wait_for_timeout(2_000)  # a cancel sent anyway would have reached the job by now
    job.refresh_from_db()
    assert job.state == "running" and not job.cancel_requested
    assert row.locator("button.cancel").is_visible()

    # Esc is "keep" too: the dialog's own cancel closes it without a choice.
    row.locator("button.cancel").click()
    dialog.wait_for(state="visible", timeout=5_000)
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden", timeout=5_000)
    page.wait_for_timeout(1_000)
    job.refresh_from_db()
    assert job.state == "running" and not job.cancel_requested

    row.locator("button.cancel").click()
    dialog.wait_for(state="visible", timeout=5_000)
    dialog.locator("button[value=go]").click()
    dialog.wait_for(state="hidden", timeout=5_000)
    job = finish(job)
    assert job.state == "cancelled"
    assert ModelVersion.objects.get(pk=job.params["model_version"]).status == "cancelled"
    page.wait_for_function(
        f"document.querySelector(\"#jobs tr[data-job='{job.pk}'] .state\").textContent"
        " === 'Cancelled'",  # the label, as the page first draws it
        timeout=15_000,
    )
    assert row.locator("button.cancel").count() == 0
    assert page.errors == []
