"""How a job ends, once: its row, the version it was filling, and the files it leaves."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from inventories.models import AccuracyReport, Job, ModelVersion, Scene
from inventories.services import files
from inventories.services.jobs.params import upload_of, version_built_by


def finish(
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
    # One transaction: a page that reads the job ended reads its version settled too (the
    # models page offers Delete beside a cancelled version as soon as its job has ended).
    with transaction.atomic():
        ended = (
            Job.objects.filter(pk=job.pk, state__in=Job.ACTIVE_STATES)
            .filter(Q(lease=lease) | Q(state=Job.State.QUEUED))
            .update(**updates)
        )
        if not ended:
            return False
        version = version_built_by(job)
        if version is not None and state in (Job.State.FAILED, Job.State.CANCELLED):
            settled = (
                ModelVersion.Status.CANCELLED
                if state == Job.State.CANCELLED
                else ModelVersion.Status.FAILED
            )
            ModelVersion.objects.filter(pk=version, status=ModelVersion.Status.TRAINING).update(
                status=settled
            )
    transaction.on_commit(lambda: _sweep_job_folder(job.pk))
    if upload := upload_of(job):  # an import's upload, kept while the job could still run
        transaction.on_commit(lambda: files.remove_upload(files.media_path(upload)))
    return True


def journal(job_id: int, lease: str) -> Path:
    """The list of files a delivery is writing and has not stored yet."""
    return files.media_path(f"jobs/{job_id}/staging-{lease}.txt")


def sweep_dead_lease(job_id: int, lease: str) -> None:
    """Delete what a dead delivery was writing (listed in its journal) and not stored."""
    files.sweep_journal(journal(job_id, lease), keep=_stored)


def _stored(relative: str) -> bool:
    """A journalled path that a row owns now: the delivery stored it before it died."""
    return (
        Scene.objects.filter(file=relative).exists()
        or AccuracyReport.objects.filter(directory=relative).exists()
    )


def _sweep_job_folder(job_id: int) -> None:
    """An ended job's folder: its journals (files of dead deliveries first), split blocks."""
    folder = files.media_path(f"jobs/{job_id}")
    if not folder.exists():
        return
    for found in folder.glob("staging-*.txt"):
        sweep_dead_lease(job_id, found.stem.removeprefix("staging-"))
    for blocks in folder.glob("blocks*"):
        shutil.rmtree(blocks, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when nothing else lives there
