"""Reads of a project's jobs for the pages (the API lists them through its own queryset)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from inventories.models import Job, Project


def jobs_of_project(
    *, project: Project, kinds: Iterable[str] | None = None, limit: int = 200
) -> QuerySet[Job]:
    """The project's latest jobs first, at most `limit`; with `kinds`, only those kinds."""
    jobs = Job.objects.filter(project=project).select_related("created_by")
    if kinds is not None:
        jobs = jobs.filter(kind__in=list(kinds))
    return jobs.order_by("-created_at")[:limit]
