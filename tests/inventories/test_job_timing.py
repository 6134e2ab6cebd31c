"""A job's time so far and its estimate of the time left, as the API gives them to every page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inventories.models import Job
from tests.factories.rows import make_job


def timed(people, **fields) -> Job:
    return make_job(people.a, started_at=timezone.now() - dt.timedelta(seconds=60), **fields)


@pytest.mark.django_db
def test_a_running_job_a_quarter_done_after_a_minute_has_about_three_left(api, people):
    job = timed(people, state=Job.State.RUNNING, progress=0.25)
    body = api.bob.get(f"/api/jobs/{job.pk}/").json()
    assert body["elapsed_seconds"] == pytest.approx(60, abs=3)
    assert body["eta_seconds"] == pytest.approx(180, abs=10)


@pytest.mark.django_db
def test_no_estimate_before_there_is_progress_enough_to_draw_it(api, people):
    job = timed(people, state=Job.State.RUNNING, progress=0.01)
    body = api.bob.get(f"/api/jobs/{job.pk}/").json()
    assert body["elapsed_seconds"] == pytest.approx(60, abs=3)
    assert body["eta_seconds"] is None


@pytest.mark.django_db
def test_a_finished_job_took_its_time_and_has_nothing_left(api, people):
    job = timed(people, state=Job.State.SUCCEEDED, progress=1.0)
    job.finished_at = job.started_at + dt.timedelta(seconds=42)
    job.save()
    body = api.bob.get(f"/api/jobs/{job.pk}/").json()
    assert body["elapsed_seconds"] == pytest.approx(42)
    assert body["eta_seconds"] is None


@pytest.mark.django_db
def test_a_queued_job_has_no_time_yet(api, people):
    job = make_job(people.a, state=Job.State.QUEUED)
    body = api.bob.get(f"/api/jobs/{job.pk}/").json()
    assert body["elapsed_seconds"] is None and body["eta_seconds"] is None
