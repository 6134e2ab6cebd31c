"""Reads scoped to what a user may see. Non-members get NotFound, never a hint."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Count, QuerySet

from inventories.errors import NotAllowed, NotFound
from inventories.models import Inventory, MappedExtent, Project, Scene
from inventories.permissions import Action, can
from inventories.selectors.tiles import basemap


def projects_for_user(user) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def project_get(*, user, pk: int, action: Action = Action.VIEW) -> Project:
    """The project if the user may see it (else NotFound) and may do `action` (else NotAllowed)."""
    project = projects_for_user(user).filter(pk=pk).first()
    if project is None:
        raise NotFound("No such project.")
    if not can(user, project, action):
        raise NotAllowed(f"Your role in {project.name} does not allow this ({action.value}).")
    return project


def require(user, project: Project, action: Action) -> None:
    if not can(user, project, action):
        raise NotAllowed(f"Your role in {project.name} does not allow this ({action.value}).")


def inventory_get(*, user, pk: int):
    """An inventory of one of the user's projects, or NotFound (as if it did not exist)."""
    inventory = (
        Inventory.objects.filter(project__in=projects_for_user(user), pk=pk)
        .select_related("project")
        .first()
    )
    if inventory is None:
        raise NotFound("No such inventory.")
    return inventory


def projects_with_counts(*, user) -> QuerySet[Project]:
    """The user's projects with how many scenes and inventories each holds (the project list)."""
    return projects_for_user(user).annotate(
        scene_count=Count("scenes", distinct=True),
        inventory_count=Count("inventories", distinct=True),
    )


def project_contents(*, project: Project) -> dict[str, Any]:
    """What the project page lists: scenes, inventories with their sizes, members."""
    return {
        "scenes": project.scenes.order_by("kind", "name"),
        "inventories": project.inventories.annotate(landslide_count=Count("landslides")),
        "members": project.memberships.select_related("user"),
    }


def inventories_of(*, project: Project, kind: str | None = None) -> QuerySet[Inventory]:
    """The project's inventories by name; with `kind`, only those of that kind."""
    queryset = project.inventories.order_by("name")
    return queryset.filter(kind=kind) if kind else queryset


def predicted_inventory_get(*, project: Project, pk: int) -> Inventory:
    """A predicted inventory of this project (the review pages), or NotFound."""
    inventory = project.inventories.filter(pk=pk, kind=Inventory.Kind.PREDICTED).first()
    if inventory is None:
        raise NotFound("No such predicted inventory in this project.")
    return inventory


def extent_splits(*, project: Project) -> dict[int, list[str]]:
    """Each inventory's mapped-extent splits (train, validation, test) that it has."""
    inventories = project.inventories.values_list("pk", flat=True)
    splits: dict[int, list[str]] = {pk: [] for pk in inventories}
    rows = (
        MappedExtent.objects.filter(inventory__project=project)
        .values_list("inventory_id", "split")
        .distinct()
    )
    for inventory_id, split in rows:
        splits[inventory_id].append(split)
    return splits


def first_optical_scene(*, project: Project) -> Scene | None:
    return project.scenes.filter(kind=Scene.Kind.OPTICAL).first()


def project_area_map(*, project: Project) -> dict[str, Any]:
    """What the project page's small map draws: the area of interest and the scenes'
    footprints (lon/lat GeoJSON), so one sees whether the imagery covers the area."""
    area = project.area_of_interest
    return {
        "basemap": basemap(),
        "area": json.loads(area.geojson) if area is not None else None,
        "footprints": [
            {"name": name, "geometry": json.loads(footprint.geojson)}
            for name, footprint in project.scenes.order_by("name").values_list("name", "footprint")
        ],
    }
