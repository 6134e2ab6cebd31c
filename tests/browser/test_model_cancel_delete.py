"""Cancel a training and delete the cancelled version from the models page (issue #14, item 3).

In real headless Chromium against the live server, with a real training on
the real Celery worker: the admin presses Cancel beside the version, is asked
with the jobs page's question, keeps it running, then cancels; once the job
has ended the version shows as cancelled with a Delete button, which asks
too and removes the row, the version and its directory. The version's name
holds markup, shown as text throughout.
"""

from __future__ import annotations

import pytest

from inventories.models import Job, ModelVersion
from inventories.services.files import media_path
from tests.browser.test_job_cancel import running_training  # noqa: F401 - a fixture
from tests.inventories.test_pretraining import finish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME = "<i>Slopes</i> & co"


def test_cancel_then_delete_a_version_from_the_models_page(
    open_page,
    people,
    running_training,  # noqa: F811
):
    job = running_training
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    ModelVersion.objects.filter(pk=version.pk).update(name=NAME)
    page = open_page(people.alice, f"/projects/{people.a.pk}/models/")
    row = page.locator(f"#versions tr[data-version='{version.pk}']")
    dialog = page.locator("#confirm-dialog")
    assert row.locator(".state").inner_text() == "Training"
    assert row.locator("button.delete").count() == 0  # a training version is not deleted

    # Asked first, as on the jobs page; keeping it leaves the training running.
    row.locator("button.cancel").click()
    dialog.wait_for(state="visible", timeout=5_000)
    assert f"Job {job.pk} (Train model) is running" in dialog.inner_text()
    dialog.locator("button[value=keep]").click()
    dialog.wait_for(state="hidden", timeout=5_000)
    page.wait_for_timeout(1_500)
    job.refresh_from_db()
    assert job.state == "running" and not job.cancel_requested
    assert row.locator("button.cancel").is_enabled()

    row.locator("button.cancel").click()
    dialog.wait_for(state="visible", timeout=5_000)
    dialog.locator("button[value=go]").click()
    dialog.wait_for(state="hidden", timeout=5_000)
    assert finish(job).state == "cancelled"
    version.refresh_from_db()
    assert version.status == "cancelled"

    # The page reloads when the job has ended: the version is cancelled, not failed.
    page.wait_for_function(
        f"document.querySelector(\"#versions tr[data-version='{version.pk}'] .state\")"
        "?.textContent === 'Cancelled'",
        timeout=20_000,
    )
    assert row.locator("button.cancel").count() == 0
    assert row.locator("a").first.inner_text() == NAME  # text, not markup
    assert row.locator("i").count() == 0

    folder = media_path(version.directory)
    assert folder.is_dir() and any(folder.iterdir()), "the training left no files to delete"

    # Delete asks, naming the version as text; keeping it changes nothing.
    row.locator("button.delete").click()
    dialog.wait_for(state="visible", timeout=5_000)
    assert f"{NAME} (cancelled) and its files are deleted" in dialog.inner_text()
    assert dialog.locator("i").count() == 0
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden", timeout=5_000)
    assert ModelVersion.objects.filter(pk=version.pk).exists()

    row.locator("button.delete").click()
    dialog.wait_for(state="visible", timeout=5_000)
    dialog.locator("button[value=go]").click()
    row.wait_for(state="detached", timeout=10_000)
    assert page.locator("#registry-status").inner_text() == f"Deleted {NAME}."
    assert not ModelVersion.objects.filter(pk=version.pk).exists()
    assert not folder.exists()
    assert Job.objects.get(pk=job.pk).state == "cancelled"  # the job's row stays as history
    assert page.errors == []
