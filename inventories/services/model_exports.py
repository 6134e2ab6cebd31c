"""A ready model version as an ONNX file: exported by a job, kept in the version's directory.

Exporting takes a while (the exporter traces the network), so it never
runs inside a request: the first download asks for a job, later ones get
the file. The file carries the checkpoint hash it was made from; a file
that does not match the version's recorded checkpoint is made again.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.urls import reverse
from pyproj import CRS

from inventories.errors import InvalidInput, NotFound
from inventories.models import Job, ModelVersion, Scene
from inventories.services.files import media_path
from inventories.services.jobs import ExportModelParams, JobContext, job_create
from mlcore.atomic import atomic_path
from mlcore.modeldir.onnx_export import ONNX_FILE, export_onnx

ONNX_TYPE = "application/octet-stream"


def onnx_path(version: ModelVersion) -> Path:
    return media_path(version.directory) / ONNX_FILE


def _stamp_path(version: ModelVersion) -> Path:
    return onnx_path(version).with_suffix(".onnx.json")


def onnx_current(version: ModelVersion) -> bool:
    """Whether the version's ONNX file exists and was made from its recorded checkpoint.

    Read from the small stamp the export job writes beside the file (the
    checkpoint hash and the file's size), not from the file: its metadata
    sit after the weights, so asking the file meant parsing all of it on
    every model page and every download.
    """
    if not version.directory:  # no directory yet: media_path("") is refused
        return False
    path, stamp = onnx_path(version), _stamp_path(version)
    try:
        made = json.loads(stamp.read_text())
        size = path.stat().st_size
    except (OSError, ValueError):
        return False
    return made.get("checkpoint_sha256") == version.checkpoint_sha256 and made.get("size") == size


def _check_exportable(version: ModelVersion) -> None:
    if version.kind != ModelVersion.Kind.SEGMENTATION:
        raise InvalidInput(
            f"{version.name} is a {version.get_kind_display().lower()}; only landslide models "
            "map imagery, so only they are offered as ONNX."
        )
    if version.status != ModelVersion.Status.READY or not version.checkpoint_sha256:
        raise InvalidInput(
            f"{version.name} is {version.get_status_display().lower()}; "
            "only a ready model can be downloaded as ONNX."
        )


def onnx_export_start(*, version: ModelVersion, user) -> Job:
    """Queue the export, or give back the one already queued or running for this version."""
    _check_exportable(version)
    params = ExportModelParams(model_version=version.pk)
    running = Job.objects.filter(
        project=version.project,
        kind=params.job_kind,
        state__in=Job.ACTIVE_STATES,
        params=params.to_json(),
    ).first()
    if running is not None:
        return running
    return job_create(project=version.project, params=params, user=user)


def training_resolution_m(version: ModelVersion) -> float | None:
    """The ground pixel size (m) of the first scene the version learnt from, if still known."""
    places = version.data_snapshot.get("places") or [[]]
    ids = [scene["id"] for scene in places[0]]
    scene = Scene.objects.filter(pk__in=ids[:1]).only("crs_wkt", "resolution_x").first()
    if scene is None or CRS.from_user_input(scene.crs_wkt).is_geographic:
        return None
    return abs(scene.resolution_x)


def run_onnx_export(job: Job, ctx: JobContext) -> dict:
    """Write `model.onnx` into the version's directory from its recorded checkpoint."""
    params = ExportModelParams.of(job)
    version = ModelVersion.objects.filter(pk=params.model_version, project=job.project).first()
    if version is None:
        raise InvalidInput(
            f"Model version {params.model_version} was deleted before its export ran."
        )
    _check_exportable(version)
    ctx.progress(0.1, f"Writing {version.name} as ONNX")
    exported = export_onnx(
        media_path(version.directory),
        onnx_path(version),
        resolution_m=training_resolution_m(version),
        expected_sha256=version.checkpoint_sha256,
    )
    size = onnx_path(version).stat().st_size
    stamp = {"checkpoint_sha256": version.checkpoint_sha256, "size": size}
    with atomic_path(_stamp_path(version)) as tmp:
        tmp.write_text(json.dumps(stamp))
    ctx.log(f"Exported {version.name} as ONNX ({', '.join(exported.channels)})")
    return {
        "model_version": version.pk,
        "filename": ONNX_FILE,
        "download": reverse("model-onnx", kwargs={"pk": version.pk}),
    }


def onnx_download(version: ModelVersion) -> Path:
    """The current ONNX file of a version, or NotFound when it must be exported first."""
    _check_exportable(version)
    if not onnx_current(version):
        raise NotFound(f"{version.name} has no ONNX file yet; ask for its export.")
    return onnx_path(version)
