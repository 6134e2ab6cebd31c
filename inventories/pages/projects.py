"""The project pages: the list, one project, its jobs, its map editor."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from inventories.models import Project, Role, Scene
from inventories.pages.lookups import project_or_404
from inventories.pages.workflow import next_action_url
from inventories.permissions import Action, can, role_of
from inventories.selectors.jobs import jobs_of_project
from inventories.selectors.projects import (
    project_area_map,
    project_contents,
    projects_with_counts,
)
from inventories.selectors.scenes import with_labels
from inventories.selectors.tiles import basemap, map_layers
from inventories.selectors.workflow import project_workflow


@login_required
def project_list(request):
    projects = projects_with_counts(user=request.user)
    context = {
        "projects": projects,
        "triggers": Project.Trigger.choices,
        "area_map": {"basemap": basemap()},
    }
    return render(request, "inventories/project_list.html", context)


@login_required
def project_detail(request, pk: int):
    project = project_or_404(request, pk)
    workflow = project_workflow(project=project, user=request.user)
    context = {
        "project": project,
        "workflow": workflow,
        "next_url": next_action_url(project, workflow.next),
        "area_map": project_area_map(project=project),
        "role": role_of(request.user, project),
        "can_manage": can(request.user, project, Action.MANAGE),
        "can_edit": can(request.user, project, Action.EDIT),
        **project_contents(project=project),
        "scene_kinds": [Scene.Kind.OPTICAL, Scene.Kind.DEM],
        "scene_phases": Scene.Phase.choices,
        "export_sync_max": settings.SCARP_EXPORT_SYNC_MAX_POLYGONS,
        "gis": _gis_addresses(request, project),
        "roles": Role.choices,
        "user_name": request.user.get_username(),
    }
    return render(request, "inventories/project_detail.html", context)


def _gis_addresses(request, project) -> list[tuple[str, str, str]]:
    """What a mapper pastes into QGIS or GDAL, as (id, what it is, full URL).

    Full URLs with this server's host: a GIS client has no page to resolve a path against.
    """
    names = [
        ("ogc", "Inventories (OGC API - Features)", "ogc-landing"),
        ("wmts", "Imagery (WMTS)", "project-wmts"),
        ("stac", "Imagery catalogue (STAC Collection)", "project-stac"),
    ]
    return [
        (key, what, request.build_absolute_uri(reverse(name, kwargs={"project_pk": project.pk})))
        for key, what, name in names
    ]


@login_required
def job_list(request, pk: int):
    project = project_or_404(request, pk)
    jobs = jobs_of_project(project=project)
    return render(request, "inventories/job_list.html", {"project": project, "jobs": jobs})


@login_required
@ensure_csrf_cookie
def project_map(request, pk: int):
    """The map editor; it reads and writes everything else through the API."""
    project = project_or_404(request, pk)
    config = map_layers(project=project)
    config["scenes"] = with_labels(config["scenes"], project=project)
    config["user"] = request.user.get_username()
    config["canEdit"] = can(request.user, project, Action.EDIT)
    return render(request, "inventories/map.html", {"project": project, "config": config})
