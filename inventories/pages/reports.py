"""Report pages: the project's reports (and the form that starts one), one report, a comparison.

Reads go through selectors; the form starts reports through the API, like
every other write from a page.
"""

from __future__ import annotations

import csv
import json
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from inventories.errors import InvalidInput
from inventories.models import Inventory, MappedExtent, Scene
from inventories.pages.lookups import not_found_is_404, project_or_404
from inventories.permissions import Action, can
from inventories.selectors.projects import extent_splits, first_optical_scene, inventories_of
from inventories.selectors.report_models import model_origin, report_model_origins
from inventories.selectors.report_tables import (
    Comparison,
    comparison_csv_rows,
    comparison_export,
    report_comparison,
    report_tables,
)
from inventories.selectors.reports import (
    LAYERS,
    PLOTS,
    REPORT_FILES,
    report_files,
    report_get,
    reports_of_project,
    reports_to_compare,
)


@login_required
@ensure_csrf_cookie
def report_list(request, pk: int):
    project = project_or_404(request, pk)
    inventories = list(inventories_of(project=project))
    splits = extent_splits(project=project)
    scene = first_optical_scene(project=project)
    config = {
        "project": project.pk,
        "splits": splits,
        "reportsUrl": reverse("project-reports", args=[project.pk]),
        "sceneTiles": _tiles(scene),
    }
    reports = list(reports_of_project(project=project))
    context = {
        "project": project,
        "reports": zip(reports, report_model_origins(reports), strict=True),
        "can_manage": can(request.user, project, Action.MANAGE),
        "predicted_choices": _by_kind(inventories, Inventory.Kind.PREDICTED),
        "reference_choices": _by_kind(inventories, Inventory.Kind.REFERENCE),
        "split_choices": MappedExtent.Split.choices,
        "config": config,
    }
    return render(request, "inventories/report_list.html", context)


def _by_kind(inventories: list[Inventory], first: str) -> list[Inventory]:
    """The inventories of the expected kind first; any inventory may take either role."""
    return sorted(inventories, key=lambda inv: (inv.kind != first, inv.name))


def _tiles(scene: Scene | None) -> str | None:
    if scene is None:
        return None
    return f"/api/scenes/{scene.pk}/tiles/{{z}}/{{x}}/{{y}}"


@login_required
def report_detail(request, pk: int, report_pk: int):
    project = project_or_404(request, pk)
    with not_found_is_404():
        report = report_get(user=request.user, pk=report_pk, project=project)
    names = report_files(report=report)
    downloads = [
        {"title": REPORT_FILES[n].title, "url": reverse("report-file", args=[report.pk, n])}
        for n in names
        if not n.endswith(".png")
    ]
    plots = [
        {"caption": caption, "url": reverse("report-file", args=[report.pk, n])}
        for n, caption in PLOTS
        if n in names
    ]
    predicted = report.predicted
    scene = predicted.source_scene or predicted.probability_scene
    config = {
        "layers": {name: reverse("report-layer", args=[report.pk, name]) for name in LAYERS},
        "area": json.loads(report.evaluation_area.geojson) if report.evaluation_area else None,
        "footprint": json.loads(scene.footprint.geojson) if scene else None,
        "sceneName": scene.name if scene else None,
        "sceneTiles": _tiles(scene),
    }
    siblings = reports_of_project(project=project).filter(reference=report.reference)
    context = {
        "project": project,
        "report": report,
        "made": report.created_at,
        "origin": model_origin(report.predicted),
        "scarp": report.figures.get("scarp", {}),
        "tables": report_tables(report.figures),
        "warnings": report.figures.get("warnings", []),
        "downloads": downloads,
        "plots": plots,
        "others": siblings.exclude(pk=report.pk),
        "config": config,
    }
    return render(request, "inventories/report_detail.html", context)


COMPARE_FORMATS = ("csv", "json")


@login_required
def report_compare(request, pk: int):
    """?reports=1,2,3 (or repeated): reports side by side; &format=csv or json downloads it."""
    project = project_or_404(request, pk)
    fmt = request.GET.get("format", "")
    raw = ",".join(request.GET.getlist("reports"))
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        ids = []
    try:
        with not_found_is_404():
            reports = reports_to_compare(user=request.user, project=project, ids=ids)
    except InvalidInput as exc:
        context = {"project": project, "error": exc.message}
        return render(request, "inventories/report_compare.html", context, status=400)
    if fmt and fmt not in COMPARE_FORMATS:
        message = f"Unknown format {fmt!r}; a comparison downloads as csv or json."
        context = {"project": project, "error": message}
        return render(request, "inventories/report_compare.html", context, status=400)
    comparison = report_comparison(reports)
    if fmt:
        return _comparison_download(comparison, fmt)
    plots = []
    for r in reports:
        names = report_files(report=r)
        urls = {n: reverse("report-file", args=[r.pk, n]) for n, _ in PLOTS if n in names}
        plots.append(
            {"report": r, "areafreq": urls.get("areafreq.png"), "pr": urls.get("pr_curve.png")}
        )
    query = {"reports": ",".join(str(r.pk) for r in reports)}
    downloads = [
        {"title": f"Comparison ({fmt.upper()})", "url": f"?{urlencode({**query, 'format': fmt})}"}
        for fmt in COMPARE_FORMATS
    ]
    context = {
        "project": project,
        "comparison": comparison,
        "plots": plots,
        "downloads": downloads,
    }
    return render(request, "inventories/report_compare.html", context)


def _comparison_download(comparison: Comparison, fmt: str) -> HttpResponse:
    name = "report-comparison-" + "-".join(str(r.pk) for r in comparison.reports)
    if fmt == "json":
        response = JsonResponse(comparison_export(comparison))
    else:
        response = HttpResponse(content_type="text/csv")
        csv.writer(response).writerows(comparison_csv_rows(comparison))
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
