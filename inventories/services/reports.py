"""Accuracy reports: a predicted inventory against a reference one, over an evaluation area.

`report_start` checks everything a user can get wrong before a job is queued
(a report that cannot run gets no job) and snapshots the evaluation area into
the job's params, so the report measures the area that was checked even if
extents change while it waits. `run_report` hands plain GeoDataFrames to
mlcore and stores the outcome all or nothing: the files are written into a
staging folder that becomes reports/<id>/ only when the row commits.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
from django.contrib.gis.db.models import Union
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import transaction
from pyproj import CRS
from pyproj.exceptions import CRSError

from inventories.errors import InvalidInput
from inventories.models import AccuracyReport, Inventory, Job, MappedExtent
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.files import media_path, staged_files
from inventories.services.geometry import geometry_from_geojson, to_shapely
from inventories.services.inventories import inventory_frame
from inventories.services.jobs import JobContext, ReportParams, job_create
from inventories.services.report_pdf import write_report_pdf
from mlcore.errors import MlcoreError
from mlcore.evaluation import DEFAULT_MAX_CELLS, Report, build_report, write_report

DEFAULT_SPLITS = (MappedExtent.Split.TEST,)
REPORTS_FOLDER = "reports"
# A drawn area may stray this far outside the mapped extents before the report warns.
OUTSIDE_TOLERANCE = 0.001


def report_start(
    *,
    user,
    predicted: Inventory,
    reference: Inventory,
    name: str = "",
    splits: Sequence[str] | None = None,
    area: dict | None = None,
    iou_threshold: float = 0.5,
) -> Job:
    """Queue a report job after checking the inventories, the area and the threshold.

    The area is the reference's mapped extents of `splits` (test by default),
    or `area`, a GeoJSON polygon the user drew; giving both is refused rather
    than silently preferring one.
    """
    project = reference.project
    require(user, project, Action.MANAGE)
    if predicted.project_id != reference.project_id:
        raise InvalidInput(
            f"{predicted.name!r} and {reference.name!r} belong to different projects; "
            "a report compares two inventories of one project."
        )
    if predicted.pk == reference.pk:
        raise InvalidInput("Choose two different inventories: the prediction and the reference.")
    if not 0 < iou_threshold <= 1:
        raise InvalidInput(f"The IoU threshold must be above 0 and at most 1, not {iou_threshold}.")
    if area is not None and splits:
        raise InvalidInput(
            "Give either mapped-extent splits or a drawn area as the evaluation area, not both."
        )
    if area is not None:
        geometry, source = _drawn_area(area), "a drawn area"
        notes = _outside_extents(geometry, reference)
    else:
        geometry, source = _extents_area(reference, splits or DEFAULT_SPLITS)
        notes = []
    notes = _role_notes(predicted, reference) + notes
    params = ReportParams(
        predicted=predicted.pk,
        reference=reference.pk,
        name=(name.strip() or f"{predicted.name} vs {reference.name}")[:200],
        iou_threshold=float(iou_threshold),
        area=json.loads(geometry.geojson),
        area_source=source,
        notes=notes,
    )
    with transaction.atomic():
        return job_create(project=project, params=params, user=user)


def _drawn_area(value: dict) -> MultiPolygon:
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    geometry = geometry_from_geojson(value)
    if not geometry.valid:
        raise InvalidInput(
            f"The drawn evaluation area is not a valid polygon ({geometry.valid_reason}); "
            "redraw it without crossing edges."
        )
    return _multi(geometry)


def _extents_area(reference: Inventory, splits: Sequence[str]) -> tuple[MultiPolygon, str]:
    valid = {s.value for s in MappedExtent.Split}
    unknown = sorted(set(splits) - valid)
    if unknown:
        raise InvalidInput(f"Unknown split {', '.join(unknown)}; use train, validation or test.")
    chosen = reference.mapped_extents.filter(split__in=splits)
    union = chosen.aggregate(union=Union("geometry"))["union"]
    if union is None or union.empty or union.area <= 0:
        present = sorted(set(reference.mapped_extents.values_list("split", flat=True)))
        has = f"it has {', '.join(present)} extents" if present else "it has no mapped extents"
        raise InvalidInput(
            f"There is no evaluation area: the reference inventory {reference.name!r} has no "
            f"mapped extents marked {' or '.join(splits)} ({has}). Mark a {splits[0]} extent "
            "on the map, choose other splits, or draw the evaluation area."
        )
    return _multi(union), f"{'/'.join(splits)} extents of {reference.name} ({chosen.count()})"


def _outside_extents(area: MultiPolygon, reference: Inventory) -> list[str]:
    """Outside the mapped extents a missing reference polygon is not known to mean 'none'."""
    extents = reference.mapped_extents.aggregate(union=Union("geometry"))["union"]
    if extents is None:
        return [
            f"{reference.name!r} has no mapped extents: inside the drawn area it is not known "
            "to be complete, so predictions it lacks may be landslides it missed."
        ]
    share = area.difference(extents).area / area.area
    if share > OUTSIDE_TOLERANCE:
        return [
            f"{share:.1%} of the drawn area lies outside the mapped extents of "
            f"{reference.name!r}; predictions there count as false positives."
        ]
    return []


def _role_notes(predicted: Inventory, reference: Inventory) -> list[str]:
    """Any two inventories may be compared; the report says when roles are unusual."""
    notes = []
    if predicted.kind != Inventory.Kind.PREDICTED:
        notes.append(f"{predicted.name!r} is a {predicted.kind} inventory, used as the prediction.")
    if reference.kind != Inventory.Kind.REFERENCE:
        notes.append(f"{reference.name!r} is a {reference.kind} inventory, used as the reference.")
    return notes


def _multi(geometry: GEOSGeometry) -> MultiPolygon:
    if geometry.geom_type == "Polygon":
        return MultiPolygon(geometry, srid=4326)
    if geometry.geom_type != "MultiPolygon":
        parts = [g for g in geometry if g.geom_type in ("Polygon", "MultiPolygon")]
        geometry = MultiPolygon([p for g in parts for p in _multi(g)], srid=4326)
    geometry.srid = 4326
    return geometry


def run_report(job: Job, ctx: JobContext) -> dict:
    """Build the report, write its files and store its row; safe to run again.

    A second delivery after a lost worker finds the row the first one stored
    (keyed by the job id in its figures) instead of making a duplicate.
    """
    done = AccuracyReport.objects.filter(project=job.project, figures__scarp__job_id=job.pk)
    if (existing := done.first()) is not None:
        return {"report_id": existing.pk}
    params = ReportParams.of(job)
    predicted = _inventory(job, params.predicted, "predicted")
    reference = _inventory(job, params.reference, "reference")
    area = _multi(GEOSGeometry(json.dumps(params.area), srid=4326))

    ctx.progress(0.05, "Reading the inventories", force=True)
    pred_frame, ref_frame = _frame(predicted), _frame(reference)
    ctx.log(f"Prediction {predicted.name}: {len(pred_frame)} polygons")
    ctx.log(f"Reference {reference.name}: {len(ref_frame)} polygons")
    ctx.check_cancelled()

    ctx.progress(0.25, "Comparing pixels and objects", force=True)
    crs, resolution = _grid_of(predicted, reference, area)
    area_frame = gpd.GeoDataFrame(geometry=[to_shapely(area)], crs="EPSG:4326")
    if crs is not None:
        area_frame = area_frame.to_crs(crs)
    report = build_report(
        pred_frame,
        ref_frame,
        area_frame,
        iou_threshold=params.iou_threshold,
        resolution=resolution,
    )
    scene = predicted.probability_scene
    if scene is not None:
        ctx.check_cancelled()
        ctx.progress(0.55, f"Reading the probability map {scene.name}", force=True)
        _add_probability(report, scene.path, ref_frame, area_frame, params.iou_threshold)
    ctx.check_cancelled()

    ctx.progress(0.8, "Writing the report files", force=True)
    stored = _store(job, report, predicted, reference, area)
    ctx.log(f"Report {stored.pk} written to {stored.directory}")
    return {"report_id": stored.pk}


def _inventory(job: Job, pk: int, role: str) -> Inventory:
    inventory = (
        Inventory.objects.filter(project=job.project, pk=pk)
        .select_related("probability_scene", "source_scene", "model_version")
        .first()
    )
    if inventory is None:
        raise InvalidInput(
            f"The {role} inventory (id {pk}) was deleted before the report ran; start it again."
        )
    return inventory


def _frame(inventory: Inventory) -> gpd.GeoDataFrame:
    """Indexed by landslide id, so the TP/FP/FN layers point back at the rows."""
    frame = inventory_frame(inventory)
    return frame.set_index("scarp_id") if "scarp_id" in frame.columns else frame


def _grid_of(
    predicted: Inventory, reference: Inventory, area: MultiPolygon
) -> tuple[CRS | None, float | None]:
    """The CRS and cell size the pixel scores are counted in.

    The imagery the prediction came from gives both, so its pixels and the
    evaluation's line up; otherwise a metric CRS an inventory was imported
    in, with mlcore's default cell size. None lets mlcore choose.
    """
    scene = predicted.probability_scene or predicted.source_scene
    if scene is not None and (crs := _metric_crs(scene.crs_wkt)) is not None:
        resolution = float(scene.resolution_x)
        xmin, ymin, xmax, ymax = (
            gpd.GeoSeries([to_shapely(area)], crs=4326).to_crs(crs).total_bounds
        )
        if (xmax - xmin) * (ymax - ymin) / resolution**2 > DEFAULT_MAX_CELLS:
            return crs, None
        return crs, resolution
    for text in (reference.source_crs, predicted.source_crs):
        if (crs := _metric_crs(text)) is not None:
            return crs, None
    return None, None


def _metric_crs(text: str) -> CRS | None:
    if not text:
        return None
    try:
        crs = CRS.from_user_input(text)
    except CRSError:
        return None
    if crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name == "metre":
        return crs
    return None


def _add_probability(
    report: Report,
    path: Path,
    ref_frame: gpd.GeoDataFrame,
    area_frame: gpd.GeoDataFrame,
    iou_threshold: float,
) -> None:
    """Add the map's precision-recall curve to a report on the inventory's polygons.

    The pixel and object figures stay those of the inventory, which reviewers
    may have edited since it was vectorised; only the curve needs the map.
    A map that cannot be evaluated costs the curve, not the report.
    """
    try:
        from_map = build_report(str(path), ref_frame, area_frame, iou_threshold=iou_threshold)
    except MlcoreError as exc:
        # The polygons' figures stand on their own; say loudly why the curve is missing.
        report.warnings.append(f"No precision-recall curve: the probability map failed: {exc}")
        return
    report.probability = from_map.probability
    report.warnings.extend(f"Probability map: {w}" for w in from_map.warnings)


def _store(
    job: Job, report: Report, predicted: Inventory, reference: Inventory, area: MultiPolygon
) -> AccuracyReport:
    """Files into a staging folder, then the row and the folder's final name in one step."""
    params = ReportParams.of(job)
    figures = report.to_json(include_ids=False)
    figures["warnings"] = list(params.notes) + figures["warnings"]
    figures["scarp"] = {
        "job_id": job.pk,
        "area_source": params.area_source,
        "predicted": _describe(predicted),
        "reference": _describe(reference),
        "probability_scene": (
            {"id": predicted.probability_scene.pk, "name": predicted.probability_scene.name}
            if predicted.probability_scene
            else None
        ),
    }
    staging = media_path(f"{REPORTS_FOLDER}/.staging-{job.pk}-{uuid.uuid4().hex}")
    # Both folders are noted in the job's journal: a worker killed while writing (kill -9,
    # out of memory) runs no clean-up, and whoever takes the job over deletes them unless
    # the report's row was stored. A failure here deletes them at once.
    with staged_files() as written:
        written.append(staging)
        files = write_report(report, staging)
        row = AccuracyReport(
            project=job.project,
            name=params.name,
            predicted=predicted,
            reference=reference,
            evaluation_area=area,
            iou_threshold=params.iou_threshold,
            figures=figures,
            created_by=job.created_by,
        )
        write_report_pdf(row, files, staging / "report.pdf")
        with transaction.atomic():
            row.save()
            row.directory = f"{REPORTS_FOLDER}/{row.pk}"
            row.save(update_fields=["directory"])
            final = media_path(row.directory)
            written.append(final)
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
    return row


def _describe(inventory: Inventory) -> dict:
    version = inventory.model_version
    return {
        "id": inventory.pk,
        "name": inventory.name,
        "kind": inventory.kind,
        "model_version": {"id": version.pk, "name": version.name} if version else None,
    }


def report_delete(*, report: AccuracyReport, user) -> None:
    """Remove a report and its files; admins only."""
    require(user, report.project, Action.MANAGE)
    directory = media_path(report.directory) if report.directory else None
    report.delete()
    if directory is not None:
        transaction.on_commit(lambda: shutil.rmtree(directory, ignore_errors=True))
