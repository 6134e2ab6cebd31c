"""Starting imports from uploaded files: a quick check now, the heavy work as a job."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db import transaction

from inventories.errors import DomainError, InvalidInput
from inventories.models import Job, Project
from inventories.services.files import relative_to_media, remove_upload, store_upload
from inventories.services.jobs import job_create
from inventories.services.scenes import scene_check
from mlcore.errors import MlcoreError
from mlcore.vector import polygons

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
    """Refuse a bad raster at once (header check); queue the conversion of a good one."""
    path = store_upload(
        uploaded, allowed_suffixes=RASTER_SUFFIXES, max_bytes=settings.SCARP_MAX_UPLOAD_BYTES
    )
    try:
        scene_check(path, band_names=band_names)
        with transaction.atomic():
            return job_create(
                project=project,
                kind=Job.Kind.IMPORT_SCENE,
                user=user,
                params={
                    "upload": relative_to_media(path),
                    "original_filename": Path(uploaded.name).name,
                    "name": name or Path(uploaded.name).stem,
                    "kind": kind,
                    "phase": phase,
                    "band_names": band_names or [],
                    "acquired_on": acquired_on.isoformat() if acquired_on else None,
                },
            )
    except DomainError:
        remove_upload(path)
        raise
    except MlcoreError as exc:  # its message names the stored file: name the user's instead
        remove_upload(path)
        message = str(exc).replace(path.name, Path(uploaded.name).name)
        raise InvalidInput(message) from None


def inventory_upload_start(
    *, project: Project, uploaded, user, name: str, kind: str = "reference", layer: str = ""
) -> Job:
    path = store_upload(
        uploaded,
        allowed_suffixes=polygons.SUPPORTED_SUFFIXES,
        max_bytes=settings.SCARP_MAX_VECTOR_BYTES,
    )
    with transaction.atomic():
        return job_create(
            project=project,
            kind=Job.Kind.IMPORT_INVENTORY,
            user=user,
            params={
                "upload": relative_to_media(path),
                "original_filename": Path(uploaded.name).name,
                "name": name,
                "kind": kind,
                "layer": layer,
            },
        )
