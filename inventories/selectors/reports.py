"""Reads of accuracy reports, scoped to the caller's projects: outsiders get NotFound.

The TP/FP/FN layers are read from the report's GeoPackage by bounding box,
through its spatial index, and capped: a report on 100,000 polygons never
goes to the map as one GeoJSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyogrio
from django.contrib.gis.geos import Polygon
from django.db.models import QuerySet

from inventories.errors import InvalidInput, NotFound
from inventories.models import AccuracyReport, Inventory, Project
from inventories.selectors.projects import projects_for_user
from inventories.storage import media_path

LAYERS = ("tp", "fp", "fn")
MAX_LAYER_FEATURES = 5000


@dataclass(frozen=True)
class ReportFile:
    content_type: str
    inline: bool
    title: str


# Only these names are ever served from a report's folder.
REPORT_FILES: dict[str, ReportFile] = {
    "report.json": ReportFile("application/json", False, "All figures (JSON)"),
    "summary.csv": ReportFile("text/csv", False, "Summary (CSV)"),
    "report.pdf": ReportFile("application/pdf", True, "Printable report (PDF)"),
    "layers.gpkg": ReportFile("application/geopackage+sqlite3", False, "TP/FP/FN (GeoPackage)"),
    "areafreq.png": ReportFile("image/png", True, "Area-frequency plot (PNG)"),
    "areafreq.svg": ReportFile("image/svg+xml", True, "Area-frequency plot (SVG)"),
    "pr_curve.png": ReportFile("image/png", True, "Precision-recall curve (PNG)"),
    "map.png": ReportFile("image/png", True, "TP/FP/FN map (PNG)"),
}
# The plots of the page and the PDF, with their captions; the PDF also has the still map.
PLOTS = [
    ("areafreq.png", "Area-frequency distributions of both inventories (log-log), fitted tails"),
    ("pr_curve.png", "Precision-recall curve of the probability map"),
]
MAP_CAPTION = (
    "TP (matched predictions), FP (unmatched predictions) and FN (missed reference "
    "landslides) inside the evaluated area (dashed)"
)


def reports_for_user(user) -> QuerySet[AccuracyReport]:
    return AccuracyReport.objects.filter(project__in=projects_for_user(user)).select_related(
        "project", "predicted", "reference", "predicted__model_version", "created_by"
    )


def report_get(*, user, pk: int, project: Project | None = None) -> AccuracyReport:
    reports = reports_for_user(user).filter(pk=pk)
    if project is not None:
        reports = reports.filter(project=project)
    report = reports.first()
    if report is None:
        raise NotFound("No such report.")
    return report


def reports_of_project(*, project: Project) -> QuerySet[AccuracyReport]:
    return AccuracyReport.objects.filter(project=project).select_related(
        "predicted",
        "reference",
        "predicted__model_version",
        "predicted__model_version__pretrained_from",
        "created_by",
    )


def reports_to_compare(*, user, project: Project, ids: list[int]) -> list[AccuracyReport]:
    """The chosen reports in the order given, with the model versions behind their predictions.

    Reports on different references or areas are allowed: the comparison warns
    instead, since a user may mean to see two families on two test sites.
    """
    if len(set(ids)) < 2:
        raise InvalidInput("Choose at least two reports to compare.")
    chosen = reports_for_user(user).filter(project=project, pk__in=ids)
    found = {r.pk: r for r in chosen.select_related("predicted__model_version__pretrained_from")}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"No such report: {', '.join(map(str, missing))}.")
    return [found[i] for i in dict.fromkeys(ids)]


def inventory_for_report(*, user, pk: int) -> Inventory:
    """An inventory the user may see, with what a report needs; NotFound otherwise."""
    inventory = (
        Inventory.objects.filter(project__in=projects_for_user(user), pk=pk)
        .select_related("project")
        .first()
    )
    if inventory is None:
        raise NotFound(f"No such inventory: {pk}.")
    return inventory


def report_file(*, report: AccuracyReport, name: str) -> Path:
    """The path of one of the report's files; NotFound for any other name or a missing file."""
    if name not in REPORT_FILES or not report.directory:
        raise NotFound(f"A report has no file named {name!r}.")
    path = media_path(f"{report.directory}/{name}")
    if not path.is_file():
        raise NotFound(f"This report has no {name} (a PR curve needs a probability map).")
    return path


def report_files(*, report: AccuracyReport) -> list[str]:
    """Names of the files this report has, in display order."""
    if not report.directory:
        return []
    folder = media_path(report.directory)
    return [name for name in REPORT_FILES if (folder / name).is_file()]


def report_layer(
    *, report: AccuracyReport, layer: str, bbox: Polygon | None, limit: int = MAX_LAYER_FEATURES
) -> dict:
    """One of the TP/FP/FN layers inside `bbox` as a GeoJSON FeatureCollection.

    At most `limit` features; `truncated` says when more were there, so the
    map can ask the user to zoom in rather than show a partial layer as whole.
    """
    if layer not in LAYERS:
        raise NotFound(f"No layer {layer!r}; the layers are {', '.join(LAYERS)}.")
    path = report_file(report=report, name="layers.gpkg")
    frame = pyogrio.read_dataframe(
        path,
        layer=layer,
        bbox=bbox.extent if bbox is not None else None,
        max_features=limit + 1,
    )
    truncated = len(frame) > limit
    collection = json.loads(frame.iloc[:limit].to_json(drop_id=True, to_wgs84=True))
    collection["truncated"] = truncated
    return collection
