"""Running a job: one delivery takes it under a lease, runs a step, records how it ended.

Each kind's runner (`inventories.tasks.RUNNERS`) is handed in by the task,
so this module knows no feature service. A runner may be run again after a
lost worker, so each one is safe to repeat.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from inventories.errors import DomainError
from inventories.models import Job
from inventories.services import files
from inventories.services.jobs.context import Heartbeat, JobCancelled, JobContext, JobDetached
from inventories.services.jobs.ending import finish, journal, sweep_dead_lease
from mlcore.errors import MlcoreError

logger = logging.getLogger(__name__)

# What a kind of job does: load the rows its params name, call one service, return a result.
Runner = Callable[[Job, JobContext], dict]


def job_execute(job_id: int, runners: Mapping[str, Runner], *, worker: str = "") -> None:
    """Run a job with the runner for its kind and record the outcome (see `inventories.tasks`).

    Each delivery takes a fresh lease (a token, not the host name): a
    redelivery after a lost worker takes the job over and resumes (runners
    are written to resume), a duplicate while the holder still beats is
    dropped, and past SCARP_JOB_MAX_ATTEMPTS the job fails.
    """
    while True:
        try:
            job = _acquire(job_id, worker)
            break
        except (OperationalError, InterfaceError) as exc:
            # The database is away (stopped, full): take the job once it answers again.
            logger.warning("Job %s could not be taken: %s", job_id, exc)
            if not database_back(settings.SCARP_JOB_DB_WAIT_SECONDS):
                raise
    if job is not None:
        _record_outcome(job, lambda ctx: runners[job.kind](job, ctx))


def _acquire(job_id: int, worker: str) -> Job | None:
    """Take the job for this delivery, or return None when it is not ours to run.

    A running job whose heartbeat is recent may be held by a live delivery
    (a duplicate message) or by one that just died (the redelivery after a
    killed worker comes at once): watch the heartbeat for three beats. If it
    moves, the holder lives and this delivery is dropped; if not, take over.
    """
    seen: object = None
    deadline = 0.0
    while True:
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id).first()
            if job is None or not job.is_active:
                return None
            if job.state == Job.State.RUNNING and not _is_stale(job):
                if seen is None:
                    seen, deadline = job.heartbeat_at, time.monotonic() + _dead_after()
                elif job.heartbeat_at != seen:
                    return None  # the holder is alive: a duplicate delivery
                if time.monotonic() < deadline:
                    job = None
            if job is not None:
                return _take(job, worker)
        time.sleep(min(0.5, settings.SCARP_JOB_HEARTBEAT_SECONDS / 4))


def _take(job: Job, worker: str) -> Job | None:
    """Under the row lock: a new lease and attempt, or the end of a job past its limit."""
    if job.cancel_requested:
        finish(job, Job.State.CANCELLED, message="Cancelled before it started.")
        return None
    if job.attempts >= settings.SCARP_JOB_MAX_ATTEMPTS:
        finish(
            job,
            Job.State.FAILED,
            error=f"Gave up after {job.attempts} attempts: the worker running it was lost "
            "each time (killed, out of memory or restarted).",
        )
        return None
    previous = job.lease
    if previous:
        sweep_dead_lease(job.pk, previous)
    job.attempts += 1
    job.state = Job.State.RUNNING
    job.worker = worker[:200]
    job.lease = uuid.uuid4().hex
    job.started_at = job.started_at or timezone.now()
    job.heartbeat_at = timezone.now()
    if job.attempts > 1:
        job.log += f"Attempt {job.attempts}: the previous worker was lost; resuming.\n"
    job.save()
    return job


def job_continue(job_id: int, step: Callable[[Job, JobContext], dict], *, lease: str) -> None:
    """Run the final step of a detached job (e.g. merging prediction blocks) and record the end.

    Only for the lease that detached: a merge queued by a run that was since
    taken over does nothing.
    """
    job = Job.objects.filter(pk=job_id, state=Job.State.RUNNING, lease=lease).first()
    if job is None:
        return
    if job.cancel_requested:
        finish(job, Job.State.CANCELLED, message="Cancelled.")
        return
    _record_outcome(job, lambda ctx: step(job, ctx))


def job_fail(job_id: int, error: str, *, lease: str | None = None) -> None:
    """Fail an active job; with `lease`, only while that delivery still holds it."""
    job = Job.objects.filter(pk=job_id).first()
    if job is not None and job.is_active:
        finish(job, Job.State.FAILED, error=error, lease=lease if lease is not None else job.lease)


def _record_outcome(job: Job, work: Callable[[JobContext], dict]) -> None:
    """Run one step under a heartbeat and record how it ended.

    A step that lost its database connection waits for the database and runs
    again (another attempt: runners resume), or fails with a message once the
    row can be written; past the wait it is left to the reaper.
    """
    while True:
        with (
            Heartbeat(job.pk, job.lease) as beat,
            files.staging_journal(journal(job.pk, job.lease)),
        ):
            ctx = JobContext(job, heartbeat=beat)
            try:
                result = work(ctx) or {}
            except JobDetached:
                return
            except JobCancelled:
                finish(job, Job.State.CANCELLED, message="Cancelled.")
                return
            except (DomainError, MlcoreError) as exc:
                finish(job, Job.State.FAILED, error=str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - record any crash, never leave it running
                if _lost_database(exc):
                    if _retry_after_database_returns(job, exc):
                        continue
                    return
                logger.exception("Job %s crashed", job.pk)
                finish(
                    job,
                    Job.State.FAILED,
                    error=f"Internal error: {exc}. The log holds the details.",
                    log=traceback.format_exc(),
                )
                return
        finish(job, Job.State.SUCCEEDED, result=result, progress=1.0, message="Done.")
        return


def _lost_database(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def database_back(timeout: float) -> bool:
    """Wait until the database answers again (closing the broken connection first)."""
    deadline = time.monotonic() + timeout
    while True:
        connection.close()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except DatabaseError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(1.0)


def _retry_after_database_returns(job: Job, exc: BaseException) -> bool:
    logger.warning("Job %s lost its database connection: %s", job.pk, exc)
    if not database_back(settings.SCARP_JOB_DB_WAIT_SECONDS):
        logger.error("Job %s: the database did not come back; the reaper will settle it", job.pk)
        return False
    with transaction.atomic():
        current = Job.objects.select_for_update().filter(pk=job.pk, lease=job.lease).first()
        if current is None or not current.is_active:
            return False  # taken over or ended while the database was away
        if current.attempts >= settings.SCARP_JOB_MAX_ATTEMPTS:
            finish(
                current,
                Job.State.FAILED,
                error=f"Lost the database connection during attempt {current.attempts} "
                f"({exc.__class__.__name__}); gave up after {current.attempts} attempts.",
            )
            return False
        current.attempts += 1
        current.heartbeat_at = timezone.now()
        current.log += (
            f"Attempt {current.attempts}: the database connection was lost; "
            "running the step again now that it is back.\n"
        )
        current.save(update_fields=["attempts", "heartbeat_at", "log"])
    job.attempts = current.attempts
    return True


def _is_stale(job: Job) -> bool:
    if job.heartbeat_at is None:
        return True
    age = (timezone.now() - job.heartbeat_at).total_seconds()
    return age > settings.SCARP_JOB_STALE_SECONDS


def _dead_after() -> float:
    return 3.0 * settings.SCARP_JOB_HEARTBEAT_SECONDS
