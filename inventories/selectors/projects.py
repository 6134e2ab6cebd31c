"""Reads scoped to what a user may see. Non-members get NotFound, never a hint."""

from __future__ import annotations

from django.db.models import QuerySet

from inventories.errors import NotAllowed, NotFound
from inventories.models import Inventory, Project
from inventories.permissions import Action, can


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
