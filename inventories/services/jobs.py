"""Creating, running, cancelling and reaping background jobs.

A Celery task only calls `job_run(job_id)`; what a kind of job does lives in
`inventories.services.job_runners`. Progress, log and outcome are written on
the Job row so every page and API client sees the same state.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from inventories.errors import DomainError, InvalidInput
from inventories.models import Job, Project
from mlcore.errors import MlcoreError

logger = logging.getLogger(__name__)

GPU_KINDS = {Job.Kind.TRAIN, Job.Kind.PRETRAIN, Job.Kind.PREDICT}


class JobCancelled(Exception):
    """Raised inside a runner when the user asked to cancel; the job ends as cancelled."""


@dataclass
class JobContext:
    """What a runner gets to report progress and notice cancellation.

    Writes are throttled so a tight loop reporting progress costs no more than
    a few UPDATEs a second.
    """

    job: Job
    min_interval: float = 0.5
    _last_write: float = field(default=0.0, init=False)

    def progress(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        fraction = max(0.0, min(1.0, float(fraction)))
        Job.objects.filter(pk=self.job.pk).update(
            progress=fraction, message=message[:500], heartbeat_at=timezone.now()
        )

    def log(self, line: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        Job.objects.filter(pk=self.job.pk).update(
            log=Concat(F("log"), Value(f"[{stamp}] {line}\n")), heartbeat_at=timezone.now()
        )

    def cancelled(self) -> bool:
        return Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled()


def job_create(*, project: Project, kind: str, params: dict, user) -> Job:
    """Record a job and send it to its queue once the surrounding transaction commits."""
    queue = "gpu" if kind in GPU_KINDS else "default"
    job = Job.objects.create(
        project=project, kind=kind, params=params, queue=queue, created_by=user
    )
    transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: Job) -> None:
    from inventories import tasks

    task = tasks.run_gpu_job if job.queue == "gpu" else tasks.run_default_job
    result = task.apply_async(args=[job.pk], queue=job.queue)
    Job.objects.filter(pk=job.pk).update(celery_id=result.id or "")


def job_cancel(*, job: Job, user) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one at its next check."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if not job.is_active:
            raise InvalidInput(f"Job {job.pk} has already ended ({job.state}).")
        job.cancel_requested = True
        if job.state == Job.State.QUEUED:
            job.state = Job.State.CANCELLED
            job.finished_at = timezone.now()
            job.message = "Cancelled before it started."
        job.save(update_fields=["cancel_requested", "state", "finished_at", "message"])
    return job


def job_run(job_id: int, *, worker: str = "") -> None:
    """Run a job to its end and record the outcome; called by the Celery tasks.

    Each delivery counts an attempt: a redelivery after a lost worker resumes
    (runners are written to resume), and past SCARP_JOB_MAX_ATTEMPTS the job fails.
    """
    from inventories.services.job_runners import RUNNERS

    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not job.is_active:
            return
        if job.state == Job.State.RUNNING and job.worker != worker and not _is_stale(job):
            # A duplicate delivery while another live worker runs it: leave it alone.
            return
        if job.cancel_requested:
            _finish(job, Job.State.CANCELLED, message="Cancelled before it started.")
            return
        if job.attempts >= settings.SCARP_JOB_MAX_ATTEMPTS:
            _finish(
                job,
                Job.State.FAILED,
                error=f"Gave up after {job.attempts} attempts: the worker running it was lost "
                "each time (killed, out of memory or restarted).",
            )
            return
        job.attempts += 1
        job.state = Job.State.RUNNING
        job.worker = worker[:200]
        job.started_at = job.started_at or timezone.now()
        job.heartbeat_at = timezone.now()
        if job.attempts > 1:
            job.log += f"Attempt {job.attempts}: the previous worker was lost; resuming.\n"
        job.save()

    _record_outcome(job, lambda ctx: RUNNERS[job.kind](job, ctx))


class JobDetached(Exception):
    """The runner handed the rest of the work to other tasks; the last one records the end."""


def job_continue(job_id: int, step: Callable[[Job, JobContext], dict]) -> None:
    """Run the final step of a detached job (e.g. merging prediction blocks) and record the end."""
    job = Job.objects.filter(pk=job_id, state=Job.State.RUNNING).first()
    if job is None:
        return
    if job.cancel_requested:
        _finish(job, Job.State.CANCELLED, message="Cancelled.")
        return
    _record_outcome(job, lambda ctx: step(job, ctx))


def job_fail(job_id: int, error: str) -> None:
    job = Job.objects.filter(pk=job_id).first()
    if job is not None and job.is_active:
        _finish(job, Job.State.FAILED, error=error)


def _record_outcome(job: Job, work: Callable[[JobContext], dict]) -> None:
    ctx = JobContext(job)
    try:
        result = work(ctx) or {}
    except JobDetached:
        return
    except JobCancelled:
        _finish(job, Job.State.CANCELLED, message="Cancelled.")
    except (DomainError, MlcoreError) as exc:
        _finish(job, Job.State.FAILED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - record any crash on the row, never leave it running
        logger.exception("Job %s crashed", job.pk)
        _finish(
            job,
            Job.State.FAILED,
            error=f"Internal error: {exc}. The log holds the details.",
            log=traceback.format_exc(),
        )
    else:
        _finish(job, Job.State.SUCCEEDED, result=result, progress=1.0, message="Done.")


def _is_stale(job: Job) -> bool:
    if job.heartbeat_at is None:
        return True
    age = (timezone.now() - job.heartbeat_at).total_seconds()
    return age > settings.SCARP_JOB_STALE_SECONDS


def _finish(job: Job, state: str, *, error: str = "", log: str = "", **fields) -> None:
    updates = {"state": state, "finished_at": timezone.now(), "heartbeat_at": timezone.now()}
    if error:
        updates["error"] = error
        updates["message"] = error[:500]
    if log:
        updates["log"] = Concat(F("log"), Value(log))
    updates.update(fields)
    Job.objects.filter(pk=job.pk).update(**updates)


def jobs_reap(*, worker: str | None = None, stale_seconds: int | None = None) -> int:
    """Settle jobs whose worker is gone: requeue them, or fail them past the attempt limit.

    Called when a worker starts (its own earlier jobs died with it) and by the
    `reap_jobs` command for jobs whose heartbeat stopped.
    """
    running = Job.objects.filter(state=Job.State.RUNNING)
    if worker is not None:
        running = running.filter(worker=worker)
    else:
        seconds = stale_seconds if stale_seconds is not None else settings.SCARP_JOB_STALE_SECONDS
        cutoff = timezone.now() - timezone.timedelta(seconds=seconds)
        running = running.filter(heartbeat_at__lt=cutoff)
    count = 0
    for job in running:
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job.pk)
            if job.state != Job.State.RUNNING:
                continue
            if job.attempts >= settings.SCARP_JOB_MAX_ATTEMPTS:
                _finish(job, Job.State.FAILED, error="The worker running this job was lost.")
            else:
                Job.objects.filter(pk=job.pk).update(
                    state=Job.State.QUEUED, log=Concat(F("log"), Value("Worker lost; requeued.\n"))
                )
                transaction.on_commit(lambda job=job: _enqueue(job))
        count += 1
    return count
