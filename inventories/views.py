"""Server-rendered pages. Reads go through selectors; writes through the API."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from inventories.errors import NotFound
from inventories.models import Job, Scene
from inventories.permissions import Action, can, role_of
from inventories.selectors.projects import project_get, projects_for_user
from inventories.selectors.scenes import with_labels
from inventories.selectors.tiles import map_layers


def _project(request, pk: int):
    try:
        return project_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404("No such project.") from None


@login_required
def project_list(request):
    projects = projects_for_user(request.user).annotate(
        scene_count=Count("scenes", distinct=True),
        inventory_count=Count("inventories", distinct=True),
    )
    return render(request, "inventories/project_list.html", {"projects": projects})


@login_required
def project_detail(request, pk: int):
    project = _project(request, pk)
    context = {
        "project": project,
        "role": role_of(request.user, project),
        "can_manage": can(request.user, project, Action.MANAGE),
        "can_edit": can(request.user, project, Action.EDIT),
        "scenes": project.scenes.order_by("kind", "name"),
        "inventories": project.inventories.annotate(landslide_count=Count("landslides")),
        "members": project.memberships.select_related("user"),
        "scene_kinds": [Scene.Kind.OPTICAL, Scene.Kind.DEM],
        "scene_phases": Scene.Phase.choices,
        "export_sync_max": settings.SCARP_EXPORT_SYNC_MAX_POLYGONS,
    }
    return render(request, "inventories/project_detail.html", context)


@login_required
def job_list(request, pk: int):
    project = _project(request, pk)
    jobs = Job.objects.filter(project=project).select_related("created_by")[:200]
    return render(request, "inventories/job_list.html", {"project": project, "jobs": jobs})


@login_required
@ensure_csrf_cookie
def project_map(request, pk: int):
    """The map editor; it reads and writes everything else through the API."""
    project = _project(request, pk)
    config = map_layers(project=project)
    config["scenes"] = with_labels(config["scenes"], project=project)
    config["user"] = request.user.get_username()
    config["canEdit"] = can(request.user, project, Action.EDIT)
    return render(request, "inventories/map.html", {"project": project, "config": config})
