"""Settling jobs whose worker is gone, and re-sending jobs the broker lost."""

from __future__ import annotations

import json
import logging
import time

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from inventories.models import Job
from inventories.services.jobs.ending import finish, sweep_dead_lease
from inventories.services.jobs.queue import enqueue, task_prefix

logger = logging.getLogger(__name__)


def jobs_reap(*, worker: str | None = None, stale_seconds: int | None = None) -> int:
    """Settle jobs whose worker is gone: requeue them, or fail them past the attempt limit.

    Called when a worker starts (its own earlier jobs died with it), by Celery
    beat every SCARP_JOB_REAP_SECONDS and by the `reap_jobs` command. It also
    re-sends queued jobs that the broker no longer holds.

    A job that handed its work on (a split prediction's blocks and merge) is
    beaten only while one of those tasks runs; while they wait in the queue
    for a free worker it is alive though silent, and is left alone. Only when
    none of its tasks is waiting, or was taken by a worker within the stale
    window, is it requeued.
    """
    seconds = stale_seconds if stale_seconds is not None else settings.SCARP_JOB_STALE_SECONDS
    running = Job.objects.filter(state=Job.State.RUNNING)
    if worker is not None:
        running = running.filter(worker=worker)
    else:
        cutoff = timezone.now() - timezone.timedelta(seconds=seconds)
        running = running.filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    candidates = list(running)
    held = _broker_task_ids(taken_within=seconds) if candidates else None
    count = 0
    for job in candidates:
        if held is not None and _hands_on_to(job, held):
            continue  # its blocks or merge wait their turn in the queue
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job.pk)
            if job.state != Job.State.RUNNING:
                continue
            if job.attempts >= settings.SCARP_JOB_MAX_ATTEMPTS:
                finish(job, Job.State.FAILED, error="The worker running this job was lost.")
            else:
                sweep_dead_lease(job.pk, job.lease)
                Job.objects.filter(pk=job.pk).update(
                    state=Job.State.QUEUED,
                    lease="",
                    log=Concat(F("log"), Value("Worker lost; requeued.\n")),
                )
                transaction.on_commit(lambda job=job: enqueue(job))
        count += 1
    if worker is None:
        count += jobs_resend()
    return count


def _hands_on_to(job: Job, held: set[str]) -> bool:
    """True if the broker holds a task the job's current delivery handed its work to."""
    prefix = task_prefix(job.pk, job.lease)
    return bool(job.lease) and any(task_id.startswith(prefix) for task_id in held)


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
    if not queued.exists():  # the usual minute: nothing to look for in the broker
        return 0
    held = _broker_task_ids()
    count = 0
    for job in queued:
        if job.celery_id and held is not None and job.celery_id in held:
            continue  # still waiting its turn in the queue
        if job.sends >= settings.SCARP_JOB_MAX_ATTEMPTS:
            finish(
                job,
                Job.State.FAILED,
                error=f"The job queue lost or refused this job {job.sends} times "
                "(is Redis running?); start it again.",
            )
        else:
            Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
                log=Concat(F("log"), Value("Not found in the job queue; sent again.\n"))
            )
            enqueue(job)
        count += 1
    return count


def _broker_task_ids(*, taken_within: float | None = None) -> set[str] | None:
    """Ids of the tasks waiting in, or taken from, the Redis queues; None if unknown.

    With `taken_within`, only tasks a worker took less than that many seconds
    ago count as taken: a live worker beats the job it runs, so an older
    unacknowledged task belongs to a worker that died with it (Redis gives it
    back only after the visibility timeout, hours later).

    None (another broker, or Redis unreachable) means every old queued job
    counts as lost: a duplicate delivery is harmless, the lease drops it.
    """
    app = current_app
    if not app.conf.broker_url.startswith("redis"):
        return None
    try:
        with app.connection_for_read() as conn:
            client = conn.default_channel.client
            ids: set[str] = set()
            for queue in ("default", "gpu"):
                for raw in client.lrange(queue, 0, -1):
                    ids.add(json.loads(raw)["headers"]["id"])
            if taken_within is None:
                taken = client.hvals("unacked")
            else:
                tags = client.zrangebyscore("unacked_index", time.time() - taken_within, "+inf")
                taken = [raw for raw in client.hmget("unacked", tags) if raw] if tags else []
            for raw in taken:
                ids.add(json.loads(raw)[0]["headers"]["id"])
            return ids
    except Exception:  # noqa: BLE001 - unreachable or unknown layout: treat as unknown
        logger.warning("Could not read the broker's queues", exc_info=True)
        return None
