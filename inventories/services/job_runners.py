"""What each kind of job does: load the rows, call one service, return a result dict.

A runner may be run again after a lost worker, so each one is safe to repeat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from django.db import DatabaseError

from inventories.errors import DomainError, InvalidInput
from inventories.models import Job
from inventories.services.exports import run_export
from inventories.services.files import media_path, remove_upload
from inventories.services.inventories import inventory_import
from inventories.services.jobs import JobContext
from inventories.services.prediction import run_predict
from inventories.services.pretraining import run_pretrain
from inventories.services.reports import run_report
from inventories.services.scenes import scene_import
from inventories.services.training import run_train
from mlcore.errors import MlcoreError


def in_users_words(message: str, upload: Path, original: str | None) -> str:
    """An import error told with the user's file name, without GDAL's pointer to a log.

    The server stores every upload as upload.tif or upload.zip, a name the user
    never chose; and "See previous exception for details" points at a server
    log the user cannot read.
    """
    if original:
        message = message.replace(upload.name, Path(original).name)
    return " ".join(message.replace(" See previous exception for details.", "").split())


def run_import_scene(job: Job, ctx: JobContext) -> dict:
    params = job.params
    upload = media_path(params["upload"])
    try:
        scenes = scene_import(
            project=job.project,
            source=upload,
            name=params.get("name", ""),
            kind=params.get("kind", "optical"),
            phase=params.get("phase", "post"),
            band_names=params.get("band_names") or None,
            acquired_on=dt.date.fromisoformat(params["acquired_on"])
            if params.get("acquired_on")
            else None,
            original_filename=params.get("original_filename", ""),
            user=job.created_by,
            progress=lambda f, m: ctx.progress(f, m),
        )
    except DatabaseError:
        raise  # the step runs again once the database is back: keep the upload
    except (DomainError, MlcoreError) as exc:
        remove_upload(upload)
        raise InvalidInput(
            in_users_words(str(exc), upload, params.get("original_filename"))
        ) from None
    except BaseException:
        remove_upload(upload)
        raise
    remove_upload(upload)
    ctx.log(f"Stored {len(scenes)} scene(s): " + ", ".join(s.name for s in scenes))
    return {"scene_ids": [s.pk for s in scenes]}


def run_import_inventory(job: Job, ctx: JobContext) -> dict:
    params = job.params
    upload = media_path(params["upload"])
    try:
        inventory = inventory_import(
            project=job.project,
            path=upload,
            name=params["name"],
            kind=params.get("kind", "reference"),
            original_filename=params.get("original_filename", ""),
            layer=params.get("layer") or None,
            user=job.created_by,
            progress=lambda f, m: ctx.progress(f, m),
        )
    except (DomainError, MlcoreError) as exc:
        raise InvalidInput(
            in_users_words(str(exc), upload, params.get("original_filename"))
        ) from None
    finally:
        remove_upload(upload)
    count = inventory.landslides.count()
    ctx.log(f"Imported {count} landslides into {inventory.name}")
    return {"inventory_id": inventory.pk, "landslides": count}


RUNNERS: dict[str, Callable[[Job, JobContext], dict]] = {
    Job.Kind.IMPORT_SCENE: run_import_scene,
    Job.Kind.IMPORT_INVENTORY: run_import_inventory,
    Job.Kind.REPORT: run_report,
    Job.Kind.TRAIN: run_train,
    Job.Kind.PRETRAIN: run_pretrain,
    Job.Kind.PREDICT: run_predict,
    Job.Kind.EXPORT_INVENTORY: run_export,
}
