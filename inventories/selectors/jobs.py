"""Reads of a project's jobs for the pages (the API lists them through its own queryset)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from inventories.models import Job, Project


def jobs_of_project(
    *, project: Project, kinds: Iterable[str] | None = None, limit: int = 200
) -> QuerySet[Job]:
    """The project's latest jobs first, at most `limit`; with `kinds`, only those kinds."""
    jobs = Job.objects.filter(project=project).select_related("created_by")
    if kinds is not None:
        jobs = jobs.filter(kind__in=list(kinds))
    return jobs.order_by("-created_at")[:limit]


# Progress below this says too little to extrapolate from (the first steps read files).
_ETA_FROM = 0.02


@dataclass(frozen=True)
class JobTiming:
    """How long a job has run and, while it runs, about how long it has left.

    The estimate is the straight line through its progress so far: rough at
    first, honest as it goes, and absent until there is progress enough to
    draw it. Seconds, so every client formats them its own way.
    """

    elapsed_seconds: float | None
    eta_seconds: float | None


def job_timing(job: Job, *, now: dt.datetime | None = None) -> JobTiming:
    if job.started_at is None:
        return JobTiming(None, None)
    end = job.finished_at or now or timezone.now()
    elapsed = max(0.0, (end - job.started_at).total_seconds())
    eta = None
    if job.state == Job.State.RUNNING and _ETA_FROM <= job.progress < 1.0:
        eta = elapsed * (1.0 - job.progress) / job.progress
    return JobTiming(round(elapsed, 1), None if eta is None else round(eta, 1))
