"""Starting and cancelling jobs, and sending tasks to the broker by name.

Services never import the task module (`inventories.tasks`, which imports
them): a job's task is sent by its registered name, so the tasks sit on top
of the services and nothing below them knows they exist.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inventories.errors import InvalidInput
from inventories.models import Job, Project
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.jobs.ending import finish
from inventories.services.jobs.params import JobParams

logger = logging.getLogger(__name__)

# The Celery tasks of `inventories.tasks`, by the names they are registered under.
RUN_DEFAULT_JOB = "inventories.tasks.run_default_job"
RUN_GPU_JOB = "inventories.tasks.run_gpu_job"
PREDICT_BLOCK = "inventories.tasks.predict_block"
FINISH_PREDICTION = "inventories.tasks.finish_prediction"
REAP_JOBS = "inventories.tasks.reap_jobs"

GPU_KINDS = {Job.Kind.TRAIN, Job.Kind.PRETRAIN, Job.Kind.PREDICT}


def send(task: str, args: list[Any], *, queue: str, **options: Any) -> str:
    """Send the task `task` (a registered name) to `queue`; the message's id."""
    result = current_app.send_task(task, args=args, queue=queue, **options)
    return result.id or ""


def task_prefix(job_id: int, lease: str) -> str:
    """How the ids of the tasks a delivery hands on begin (a split prediction's blocks, merge).

    A job that handed its work to other tasks has no worker beating it while
    they wait their turn; the reaper finds them in the broker by this prefix
    and leaves the job alone (`jobs_reap`).
    """
    return f"job-{job_id}-{lease}-"


def job_create(*, project: Project, params: JobParams, user) -> Job:
    """Record a job and send it to its queue once the surrounding transaction commits.

    The kind is the params' kind, so a job never carries another kind's params.
    """
    kind = params.job_kind
    queue = "gpu" if kind in GPU_KINDS else "default"
    job = Job.objects.create(
        project=project, kind=kind, params=params.to_json(), queue=queue, created_by=user
    )
    transaction.on_commit(lambda: enqueue(job))
    return job


def enqueue(job: Job) -> bool:
    """Hand the job to the broker. A broker that is down leaves it queued for the reaper.

    Never raises: the job row is already committed, and the request that made
    it must not fail because Redis is away for a moment.
    """
    task = RUN_GPU_JOB if job.queue == "gpu" else RUN_DEFAULT_JOB
    Job.objects.filter(pk=job.pk).update(sends=F("sends") + 1, sent_at=timezone.now())
    try:
        message = send(
            task,
            [job.pk],
            queue=job.queue,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; all mean "not sent"
        logger.warning("Job %s could not be sent to the broker: %s", job.pk, exc)
        Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            celery_id="",
            message="Waiting for the job queue (the broker did not answer); it will be re-sent.",
        )
        return False
    Job.objects.filter(pk=job.pk).update(celery_id=message)
    return True


def job_cancel(*, job: Job, user) -> Job:
    """Ask a job to stop: its starter may, and whoever may manage the project.

    A queued job is cancelled at once; a running one at its next check.
    """
    if job.created_by_id != user.pk:
        require(user, job.project, Action.MANAGE)
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if not job.is_active:
            raise InvalidInput(f"Job {job.pk} has already ended ({job.state}).")
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        if job.state == Job.State.QUEUED:
            finish(job, Job.State.CANCELLED, message="Cancelled before it started.")
    job.refresh_from_db()
    return job
