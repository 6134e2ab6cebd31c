"""Imports from uploaded files: a quick check now, the heavy work as a job.

The start functions write the job's params, and the runners below read
them: one module for both ends of an import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import transaction

from inventories.errors import DomainError, InvalidInput
from inventories.models import Job, Project
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.files import media_path, relative_to_media, remove_upload, store_upload
from inventories.services.inventories import inventory_import
from inventories.services.jobs import (
    ImportInventoryParams,
    ImportSceneParams,
    JobContext,
    job_create,
)
from inventories.services.scenes import scene_check, scene_import
from mlcore.errors import MlcoreError
from mlcore.vector import SUPPORTED_SUFFIXES

RASTER_SUFFIXES = (".tif", ".tiff")


def scene_upload_start(
    *,
    project: Project,
    uploaded,
    user,
    name: str = "",
    kind: str = "optical",
    phase: str = "post",
    band_names: list[str] | None = None,
    acquired_on: dt.date | None = None,
) -> Job:
    """Refuse a bad raster at once (header check); queue the conversion of a good one.

    Imagery is the project's: only a manager adds it. Checked before the upload is stored.
    """
    require(user, project, Action.MANAGE)
    path = store_upload(
        uploaded, allowed_suffixes=RASTER_SUFFIXES, max_bytes=settings.SCARP_MAX_UPLOAD_BYTES
    )
    try:
        scene_check(path, band_names=band_names)
        with transaction.atomic():
            return job_create(
                project=project,
                user=user,
                params=ImportSceneParams(
                    upload=relative_to_media(path),
                    original_filename=Path(uploaded.name).name,
                    name=name or Path(uploaded.name).stem,
                    kind=kind,
                    phase=phase,
                    band_names=band_names or [],
                    acquired_on=acquired_on,
                ),
            )
    except BaseException as exc:  # nothing of a refused upload stays, whatever refused it
        remove_upload(path)
        if isinstance(exc, MlcoreError):  # it names the stored file: name the user's instead
            raise InvalidInput(in_users_words(str(exc), path, uploaded.name)) from None
        raise


def inventory_upload_start(
    *, project: Project, uploaded, user, name: str, kind: str = "reference", layer: str = ""
) -> Job:
    """Store the file and queue its import; whoever may edit the project's inventories may."""
    require(user, project, Action.EDIT)
    path = store_upload(
        uploaded,
        allowed_suffixes=SUPPORTED_SUFFIXES,
        max_bytes=settings.SCARP_MAX_VECTOR_BYTES,
    )
    with transaction.atomic():
        return job_create(
            project=project,
            user=user,
            params=ImportInventoryParams(
                upload=relative_to_media(path),
                original_filename=Path(uploaded.name).name,
                name=name,
                kind=kind,
                layer=layer,
            ),
        )


def in_users_words(message: str, upload: Path, original: str | None) -> str:
    """An import error told with the user's file name, without GDAL's pointer to a log.

    The server stores every upload as upload.tif or upload.zip, a name the user
    never chose; and "See previous exception for details" points at a server
    log the user cannot read.
    """
    if original:
        message = message.replace(upload.name, Path(original).name)
    return " ".join(message.replace(" See previous exception for details.", "").split())


@contextmanager
def _told_with(upload: Path, original: str | None) -> Iterator[None]:
    """An import's refusal in the user's words (`in_users_words`).

    The upload is left where it is: a step that runs again (the database came
    back, a worker died) needs it, and the job's end removes it
    (`jobs.ending.finish`), whichever way the job ends.
    """
    try:
        yield
    except (DomainError, MlcoreError) as exc:
        raise InvalidInput(in_users_words(str(exc), upload, original)) from None


def _stages(ctx: JobContext):
    """Progress for an import: its few calls each name a new stage, so none is throttled away
    (a stage reached within half a second of the last write was never shown)."""
    return lambda fraction, message: ctx.progress(fraction, message, force=True)


def run_import_scene(job: Job, ctx: JobContext) -> dict:
    params = ImportSceneParams.of(job)
    upload = media_path(params.upload)
    with _told_with(upload, params.original_filename):
        scenes = scene_import(
            project=job.project,
            source=upload,
            name=params.name,
            kind=params.kind,
            phase=params.phase,
            band_names=params.band_names or None,
            acquired_on=params.acquired_on,
            original_filename=params.original_filename,
            user=job.created_by,
            progress=_stages(ctx),
        )
    ctx.log(f"Stored {len(scenes)} scene(s): " + ", ".join(s.name for s in scenes))
    return {"scene_ids": [s.pk for s in scenes]}


def run_import_inventory(job: Job, ctx: JobContext) -> dict:
    params = ImportInventoryParams.of(job)
    upload = media_path(params.upload)
    with _told_with(upload, params.original_filename):
        inventory = inventory_import(
            project=job.project,
            path=upload,
            name=params.name,
            kind=params.kind,
            original_filename=params.original_filename,
            layer=params.layer or None,
            user=job.created_by,
            progress=_stages(ctx),
        )
    count = inventory.landslides.count()
    ctx.log(f"Imported {count} landslides into {inventory.name}")
    return {"inventory_id": inventory.pk, "landslides": count}
