"""Exports users ask for: written at once when small, as a job when large.

An export of tens of thousands of polygons takes minutes; inside a web
request it would hold a web worker that long. Over
SCARP_EXPORT_SYNC_MAX_POLYGONS it is a job on the default queue, and its
file waits under `exports/<job id>/` until the job (or its inventory, or its
project) is deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from inventories.errors import InvalidInput, NotFound
from inventories.models import Inventory, Job
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.files import media_path, relative_to_media, staged_files
from inventories.services.inventories import export_crs, inventory_export
from inventories.services.jobs import ExportParams, JobContext, job_create

EXPORT_FORMATS = {
    "geojson": (".geojson", "application/geo+json"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3"),
    "shp": (".zip", "application/zip"),
}
EXPORTS_FOLDER = "exports"


def export_format(name: str) -> tuple[str, str]:
    """(suffix, content type) of an export format name, or a sentence listing the names."""
    if name not in EXPORT_FORMATS:
        raise InvalidInput(
            f"Unknown export format {name!r}; use one of {', '.join(EXPORT_FORMATS)}."
        )
    return EXPORT_FORMATS[name]


def export_file_name(inventory_id: int, fmt: str) -> str:
    return f"inventory-{inventory_id}{export_format(fmt)[0]}"


def export_in_background(inventory: Inventory) -> bool:
    return inventory.landslides.count() > settings.SCARP_EXPORT_SYNC_MAX_POLYGONS


def inventory_export_start(*, inventory: Inventory, fmt: str, crs: str | None, user) -> Job:
    """Queue a large export, or give back the same one still running for this user.

    A second click (or a reload of the link) follows the first job instead of
    starting another export of the same thing. Any member may export.
    """
    require(user, inventory.project, Action.VIEW)
    export_format(fmt)
    params = ExportParams(inventory_id=inventory.pk, format=fmt, crs=export_crs(crs))
    running = Job.objects.filter(
        project=inventory.project,
        kind=params.job_kind,
        state__in=Job.ACTIVE_STATES,
        created_by=user,
        params=params.to_json(),
    ).first()
    if running is not None:
        return running
    return job_create(project=inventory.project, params=params, user=user)


def export_folder(job_id: int) -> Path:
    return media_path(f"{EXPORTS_FOLDER}/{job_id}")


def run_export(job: Job, ctx: JobContext) -> dict:
    """Write the file into the job's export folder; a repeated delivery starts it afresh."""
    params = ExportParams.of(job)
    inventory = Inventory.objects.filter(pk=params.inventory_id, project=job.project).first()
    if inventory is None:
        raise InvalidInput(
            f"Inventory {params.inventory_id} was deleted before its export ran; "
            "nothing was written."
        )
    folder = export_folder(job.pk)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / export_file_name(inventory.pk, params.format)
    try:
        with staged_files() as written:
            written.append(path)
            inventory_export(
                inventory=inventory,
                path=path,
                crs=params.crs,
                progress=lambda f, m: ctx.progress(f, m),
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    ctx.log(f"Exported {inventory.name} to {path.name}")
    return {
        "inventory_id": inventory.pk,
        "file": relative_to_media(path),
        "filename": path.name,
        "download": f"/api/jobs/{job.pk}/download/",
    }


def export_download(job: Job) -> tuple[Path, str]:
    """The finished export file of `job` and its content type, or a sentence why there is none."""
    if job.kind != Job.Kind.EXPORT_INVENTORY:
        raise NotFound(f"Job {job.pk} is not an export; it has no file to download.")
    if job.state != Job.State.SUCCEEDED:
        raise InvalidInput(f"Export job {job.pk} is {job.state}; its file is not ready.")
    path = media_path(job.result["file"])
    if not path.is_file():
        raise NotFound(f"The file of export job {job.pk} was removed with its inventory.")
    return path, export_format(ExportParams.of(job).format)[1]
