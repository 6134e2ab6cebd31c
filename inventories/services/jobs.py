"""Creating, running, cancelling and reaping background jobs.

A Celery task only calls `job_run(job_id)`; what a kind of job does lives in
`inventories.services.job_runners`. Progress, log and outcome are written on
the Job row so every page and API client sees the same state.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from inventories.errors import DomainError, InvalidInput
from inventories.models import Job, ModelVersion, Project
from inventories.services import files
from mlcore.errors import MlcoreError

logger = logging.getLogger(__name__)

GPU_KINDS = {Job.Kind.TRAIN, Job.Kind.PRETRAIN, Job.Kind.PREDICT}
VERSION_KINDS = {Job.Kind.TRAIN, Job.Kind.PRETRAIN}


class JobCancelled(Exception):
    """Raised inside a runner when the user asked to cancel; the job ends as cancelled."""


class Heartbeat:
    """A timer thread that beats the job's row while a step runs, on its own connection.

    A step that computes for minutes between two progress reports (a training
    epoch, a prediction block) still looks alive to the reaper. The beat only
    touches the row while this delivery holds the lease; once another delivery
    took the job over (or it ended), `lost` is set and the step stops at its
    next cancellation check.
    """

    def __init__(self, job_id: int, lease: str) -> None:
        self.job_id, self.lease = job_id, lease
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.SCARP_JOB_HEARTBEAT_SECONDS):
                try:
                    held = Job.objects.filter(
                        pk=self.job_id, lease=self.lease, state=Job.State.RUNNING
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    connection.close()  # the database is away; beat again once it is back
                    continue
                if (
                    not held
                    and Job.objects.filter(pk=self.job_id)
                    .exclude(lease=self.lease, state=Job.State.RUNNING)
                    .exists()
                ):
                    self.lost.set()  # another delivery holds it now, or it ended
        finally:
            connection.close()


@dataclass
class JobContext:
    """What a runner gets to report progress and notice cancellation.

    Writes are throttled so a tight loop reporting progress costs no more than
    a few UPDATEs a second, and go only to the row this delivery holds.
    """

    job: Job
    min_interval: float = 0.5
    heartbeat: Heartbeat | None = None
    _last_write: float = field(default=0.0, init=False)

    def _mine(self):
        return Job.objects.filter(pk=self.job.pk, lease=self.job.lease)

    def progress(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        fraction = max(0.0, min(1.0, float(fraction)))
        self._mine().update(progress=fraction, message=message[:500], heartbeat_at=timezone.now())

    def log(self, line: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        self._mine().update(
            log=Concat(F("log"), Value(f"[{stamp}] {line}\n")), heartbeat_at=timezone.now()
        )

    def cancelled(self) -> bool:
        """True when the user asked to stop, or another delivery holds the job now."""
        if self.heartbeat is not None and self.heartbeat.lost.is_set():
            return True
        return not self._mine().filter(cancel_requested=False, state=Job.State.RUNNING).exists()

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled()

    def assert_holds(self) -> None:
        """Inside a transaction: lock the row and refuse to commit if the lease was lost.

        Called before a runner stores its result, so a worker that was taken
        for dead stores nothing next to the one that took over.
        """
        if not self._mine().select_for_update().filter(state=Job.State.RUNNING).exists():
            raise JobCancelled()


def job_create(*, project: Project, kind: str, params: dict, user) -> Job:
    """Record a job and send it to its queue once the surrounding transaction commits."""
    queue = "gpu" if kind in GPU_KINDS else "default"
    job = Job.objects.create(
        project=project, kind=kind, params=params, queue=queue, created_by=user
    )
    transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: Job) -> bool:
    """Hand the job to the broker. A broker that is down leaves it queued for the reaper.

    Never raises: the job row is already committed, and the request that made
    it must not fail because Redis is away for a moment.
    """
    from inventories import tasks

    task = tasks.run_gpu_job if job.queue == "gpu" else tasks.run_default_job
    Job.objects.filter(pk=job.pk).update(sends=F("sends") + 1, sent_at=timezone.now())
    try:
        result = task.apply_async(
            args=[job.pk],
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
    Job.objects.filter(pk=job.pk).update(celery_id=result.id or "")
    return True


def job_cancel(*, job: Job, user) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one at its next check."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if not job.is_active:
            raise InvalidInput(f"Job {job.pk} has already ended ({job.state}).")
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        if job.state == Job.State.QUEUED:
            _finish(job, Job.State.CANCELLED, message="Cancelled before it started.")
    job.refresh_from_db()
    return job


def job_run(job_id: int, *, worker: str = "") -> None:
    """Run a job to its end and record the outcome; called by the Celery tasks.

    Each delivery takes a fresh lease (a token, not the host name): a
    redelivery after a lost worker takes the job over and resumes (runners
    are written to resume), a duplicate while the holder still beats is
    dropped, and past SCARP_JOB_MAX_ATTEMPTS the job fails.
    """
    from inventories.services.job_runners import RUNNERS

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
        _record_outcome(job, lambda ctx: RUNNERS[job.kind](job, ctx))


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
        _finish(job, Job.State.CANCELLED, message="Cancelled before it started.")
        return None
    if job.attempts >= settings.SCARP_JOB_MAX_ATTEMPTS:
        _finish(
            job,
            Job.State.FAILED,
            error=f"Gave up after {job.attempts} attempts: the worker running it was lost "
            "each time (killed, out of memory or restarted).",
        )
        return None
    previous = job.lease
    if previous:
        _sweep_dead_lease(job.pk, previous)
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


class JobDetached(Exception):
    """The runner handed the rest of the work to other tasks; the last one records the end."""


def job_continue(job_id: int, step: Callable[[Job, JobContext], dict], *, lease: str) -> None:
    """Run the final step of a detached job (e.g. merging prediction blocks) and record the end.

    Only for the lease that detached: a merge queued by a run that was since
    taken over does nothing.
    """
    job = Job.objects.filter(pk=job_id, state=Job.State.RUNNING, lease=lease).first()
    if job is None:
        return
    if job.cancel_requested:
        _finish(job, Job.State.CANCELLED, message="Cancelled.")
        return
    _record_outcome(job, lambda ctx: step(job, ctx))


def job_fail(job_id: int, error: str, *, lease: str | None = None) -> None:
    """Fail an active job; with `lease`, only while that delivery still holds it."""
    job = Job.objects.filter(pk=job_id).first()
    if job is not None and job.is_active:
        _finish(job, Job.State.FAILED, error=error, lease=lease if lease is not None else job.lease)


def _record_outcome(job: Job, work: Callable[[JobContext], dict]) -> None:
    """Run one step under a heartbeat and record how it ended.

    A step that lost its database connection waits for the database and runs
    again (another attempt: runners resume), or fails with a message once the
    row can be written; past the wait it is left to the reaper.
    """
    while True:
        with (
            Heartbeat(job.pk, job.lease) as beat,
            files.staging_journal(_journal(job.pk, job.lease)),
        ):
            ctx = JobContext(job, heartbeat=beat)
            try:
                result = work(ctx) or {}
            except JobDetached:
                return
            except JobCancelled:
                _finish(job, Job.State.CANCELLED, message="Cancelled.")
                return
            except (DomainError, MlcoreError) as exc:
                _finish(job, Job.State.FAILED, error=str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - record any crash, never leave it running
                if _lost_database(exc):
                    if _retry_after_database_returns(job, exc):
                        continue
                    return
                logger.exception("Job %s crashed", job.pk)
                _finish(
                    job,
                    Job.State.FAILED,
                    error=f"Internal error: {exc}. The log holds the details.",
                    log=traceback.format_exc(),
                )
                return
        _finish(job, Job.State.SUCCEEDED, result=result, progress=1.0, message="Done.")
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
            _finish(
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


def _finish(
    job: Job, state: str, *, error: str = "", log: str = "", lease: str | None = None, **fields
) -> bool:
    """End the job, once: only an active row held by `lease` (default: the job's) changes.

    A training or pretraining that ends failed or cancelled settles its model
    version too, so no version is left "training" for ever; and the job's
    temporary files (split blocks, half-written outputs of dead workers) go.
    """
    updates = {"state": state, "finished_at": timezone.now(), "heartbeat_at": timezone.now()}
    if error:
        updates["error"] = error
        updates["message"] = error[:500]
    if log:
        updates["log"] = Concat(F("log"), Value(log))
    updates.update(fields)
    lease = job.lease if lease is None else lease
    ended = (
        Job.objects.filter(pk=job.pk, state__in=Job.ACTIVE_STATES)
        .filter(Q(lease=lease) | Q(state=Job.State.QUEUED))
        .update(**updates)
    )
    if not ended:
        return False
    if job.kind in VERSION_KINDS and state in (Job.State.FAILED, Job.State.CANCELLED):
        settled = (
            ModelVersion.Status.CANCELLED
            if state == Job.State.CANCELLED
            else ModelVersion.Status.FAILED
        )
        ModelVersion.objects.filter(
            pk=job.params.get("model_version"), status=ModelVersion.Status.TRAINING
        ).update(status=settled)
    transaction.on_commit(lambda: _sweep_job_folder(job.pk))
    if job.params.get("upload"):  # an import's upload, kept while the job could still run
        transaction.on_commit(lambda: files.remove_upload(files.media_path(job.params["upload"])))
    return True


def _journal(job_id: int, lease: str):
    return files.media_path(f"jobs/{job_id}/staging-{lease}.txt")


def _sweep_dead_lease(job_id: int, lease: str) -> None:
    """Delete what a dead delivery was writing (listed in its journal) and not stored."""
    from inventories.models import Scene

    journal = _journal(job_id, lease)
    files.sweep_journal(journal, keep=lambda relative: Scene.objects.filter(file=relative).exists())


def _sweep_job_folder(job_id: int) -> None:
    """An ended job's folder: its journals (files of dead deliveries first), split blocks."""
    folder = files.media_path(f"jobs/{job_id}")
    if not folder.exists():
        return
    for journal in folder.glob("staging-*.txt"):
        _sweep_dead_lease(job_id, journal.stem.removeprefix("staging-"))
    for blocks in folder.glob("blocks*"):
        shutil.rmtree(blocks, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when nothing else lives there


def jobs_reap(*, worker: str | None = None, stale_seconds: int | None = None) -> int:
    """Settle jobs whose worker is gone: requeue them, or fail them past the attempt limit.

    Called when a worker starts (its own earlier jobs died with it), by Celery
    beat every SCARP_JOB_REAP_SECONDS and by the `reap_jobs` command. It also
    re-sends queued jobs that the broker no longer holds.
    """
    running = Job.objects.filter(state=Job.State.RUNNING)
    if worker is not None:
        running = running.filter(worker=worker)
    else:
        seconds = stale_seconds if stale_seconds is not None else settings.SCARP_JOB_STALE_SECONDS
        cutoff = timezone.now() - timezone.timedelta(seconds=seconds)
        running = running.filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    count = 0
    for job in running:
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job.pk)
            if job.state != Job.State.RUNNING:
                continue
            if job.attempts >= settings.SCARP_JOB_MAX_ATTEMPTS:
                _finish(job, Job.State.FAILED, error="The worker running this job was lost.")
            else:
                _sweep_dead_lease(job.pk, job.lease)
                Job.objects.filter(pk=job.pk).update(
                    state=Job.State.QUEUED,
                    lease="",
                    log=Concat(F("log"), Value("Worker lost; requeued.\n")),
                )
                transaction.on_commit(lambda job=job: _enqueue(job))
        count += 1
    if worker is None:
        count += jobs_resend()
    return count


def jobs_resend(*, older_than: int | None = None) -> int:
    """Re-send queued jobs whose message is gone (a restarted broker, a failed enqueue).

    A job queued longer than SCARP_JOB_RESEND_SECONDS since it was last sent,
    whose message the broker no longer holds, is sent again; past
    SCARP_JOB_MAX_ATTEMPTS sends it fails with a message instead.
    """
    seconds = older_than if older_than is not None else settings.SCARP_JOB_RESEND_SECONDS
    cutoff = timezone.now() - timezone.timedelta(seconds=seconds)
    queued = Job.objects.filter(state=Job.State.QUEUED).filter(
        Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff)
    )
    held = _broker_task_ids()
    count = 0
    for job in queued:
        if job.celery_id and held is not None and job.celery_id in held:
            continue  # still waiting its turn in the queue
        if job.sends >= settings.SCARP_JOB_MAX_ATTEMPTS:
            _finish(
                job,
                Job.State.FAILED,
                error=f"The job queue lost or refused this job {job.sends} times "
                "(is Redis running?); start it again.",
            )
        else:
            Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
                log=Concat(F("log"), Value("Not found in the job queue; sent again.\n"))
            )
            _enqueue(job)
        count += 1
    return count


def _broker_task_ids() -> set[str] | None:
    """Ids of the tasks waiting in, or taken from, the Redis queues; None if unknown.

    None (another broker, or Redis unreachable) means every old queued job
    counts as lost: a duplicate delivery is harmless, the lease drops it.
    """
    import json

    from webapp.celery import app

    if not app.conf.broker_url.startswith("redis"):
        return None
    try:
        with app.connection_for_read() as conn:
            client = conn.default_channel.client
            ids: set[str] = set()
            for queue in ("default", "gpu"):
                for raw in client.lrange(queue, 0, -1):
                    ids.add(json.loads(raw)["headers"]["id"])
            for raw in client.hvals("unacked"):
                ids.add(json.loads(raw)[0]["headers"]["id"])
            return ids
    except Exception:  # noqa: BLE001 - unreachable or unknown layout: treat as unknown
        logger.warning("Could not read the broker's queues", exc_info=True)
        return None
