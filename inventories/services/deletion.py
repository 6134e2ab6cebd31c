"""Deleting projects, inventories, model versions and jobs with every file they own.

The rows go in the transaction; their files go only once it commits
(`transaction.on_commit`), so a delete that rolls back keeps both, and a
committed one leaves nothing under MEDIA_ROOT. What owns which files:
a scene its COG and its cached tiles, a model version its directory, a report its folder, a job
its upload, its staging folder and its export file.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from pathlib import Path

from django.db import transaction
from django.db.models import Q, QuerySet

from inventories.errors import InvalidInput
from inventories.models import AccuracyReport, Inventory, Job, ModelVersion, Project
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.exports import EXPORTS_FOLDER
from inventories.services.files import media_path
from inventories.services.jobs import job_cancel, upload_of
from inventories.services.tile_cache import FOLDER as TILE_CACHE


def remove_after_commit(relatives: Iterable[str]) -> None:
    """Remove these MEDIA_ROOT paths (files or folders) when the transaction commits."""
    paths = [r for r in relatives if r]
    if paths:
        transaction.on_commit(lambda: [_remove(r) for r in paths])


def _remove(relative: str) -> None:
    try:
        path = media_path(relative)
    except ValueError:  # never anything outside MEDIA_ROOT, whatever a row says
        return
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    # A file's own uuid folder (scenes/<uuid>/dem.tif, uploads/<uuid>/upload.zip) goes when empty.
    top = media_path(Path(relative).parts[0])
    parent = path.parent
    while parent != top and top in parent.parents:
        with contextlib.suppress(OSError):
            parent.rmdir()
        parent = parent.parent


def job_files(jobs: Iterable[Job]) -> list[str]:
    """A job's upload (an import not yet run), its staging folder and its export file."""
    relatives = []
    for job in jobs:
        relatives += [f"jobs/{job.pk}", f"{EXPORTS_FOLDER}/{job.pk}"]
        if upload := upload_of(job):
            relatives.append(upload)
    return relatives


def _report_folders(reports: QuerySet[AccuracyReport]) -> list[str]:
    return [d for d in reports.values_list("directory", flat=True) if d]


def project_delete(*, project: Project, user) -> None:
    """Delete a project, everything in it and all its files; admins only.

    Refused while one of its jobs runs: the job would go on writing files for
    rows that are gone.
    """
    require(user, project, Action.MANAGE)
    running = project.jobs.filter(state=Job.State.RUNNING)
    if running.exists():
        names = ", ".join(str(j) for j in running[:3])
        raise InvalidInput(
            f"{project.name} has jobs running ({names}); cancel them and wait until they end, "
            "then delete the project."
        )
    with transaction.atomic():
        relatives = list(project.scenes.values_list("file", flat=True))
        relatives += [f"{TILE_CACHE}/{pk}" for pk in project.scenes.values_list("pk", flat=True)]
        relatives += [d for d in project.model_versions.values_list("directory", flat=True) if d]
        relatives += _report_folders(project.reports.all())
        relatives += job_files(project.jobs.all())
        project.delete()
        remove_after_commit(relatives)


def inventory_delete(*, inventory: Inventory, user) -> None:
    """Delete an inventory, its reports' folders and the files exported from it; admins only."""
    require(user, inventory.project, Action.MANAGE)
    with transaction.atomic():
        reports = AccuracyReport.objects.filter(Q(predicted=inventory) | Q(reference=inventory))
        relatives = _report_folders(reports)
        exports = Job.objects.filter(
            project=inventory.project,
            kind=Job.Kind.EXPORT_INVENTORY,
            params__inventory_id=inventory.pk,
        )
        relatives += [f"{EXPORTS_FOLDER}/{pk}" for pk in exports.values_list("pk", flat=True)]
        inventory.delete()
        remove_after_commit(relatives)


def model_delete(*, version: ModelVersion, user) -> None:
    """Delete a model version and its directory (checkpoints, config, curves); admins only.

    Refused while a job trains it or predicts with it. Its predicted
    inventories stay, no longer linked to a model.
    """
    require(user, version.project, Action.MANAGE)
    _refuse_if_in_use(version)
    with transaction.atomic():
        _delete_version(version)


def model_version_delete(*, version: ModelVersion, user) -> None:
    """Delete a version whose training failed or was cancelled, with its files; admins only.

    What the models page offers beside such a version, so a project's
    registry does not fill up with runs that never became a model. A ready
    version may have made predictions and a training one has a job writing
    into its directory: neither is removed this way (a ready one still can
    be, on purpose, through `model_delete`).
    """
    require(user, version.project, Action.MANAGE)
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if not version.ended_without_model:
            advice = (
                "cancel its training first"
                if version.status == ModelVersion.Status.TRAINING
                else "only a failed or cancelled version is deleted this way"
            )
            raise InvalidInput(
                f"{version.name} is {version.get_status_display().lower()}; {advice}."
            )
        _refuse_if_in_use(version)
        _delete_version(version)


def _refuse_if_in_use(version: ModelVersion) -> None:
    """A job training or predicting with the version would write into a directory that is gone."""
    busy = Job.objects.filter(
        project=version.project,
        state__in=Job.ACTIVE_STATES,
        params__model_version=version.pk,
    ).first()
    if busy is not None:
        raise InvalidInput(
            f"{version.name} is in use by {busy}; cancel that job or let it end, then delete it."
        )


def _delete_version(version: ModelVersion) -> None:
    directory = version.directory
    version.delete()
    remove_after_commit([directory])


def job_delete(*, job: Job, user) -> None:
    """Delete a job's row and its files (upload, staging folder, export file); admins only.

    Refused while it runs: its worker would go on writing files (and storing
    rows) for a job that is gone, and nobody could see or cancel it. A queued
    job is cancelled first, as a cancel would: a training it was to run
    leaves its model version cancelled, not "training" for ever. What the job
    made (a scene, an inventory, a report) stays: those are rows of their own.
    """
    require(user, job.project, Action.MANAGE)
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.state == Job.State.RUNNING:
            raise InvalidInput(
                f"{job.get_kind_display()} #{job.pk} is running; cancel it and wait until it "
                "ends, then delete it."
            )
        if job.state == Job.State.QUEUED:
            job_cancel(job=job, user=user)
        relatives = job_files([job])
        job.delete()
        remove_after_commit(relatives)
