"""What each project role may do. The one place that answers "may this user ...?"."""

from __future__ import annotations

from enum import StrEnum

from inventories.models import Membership, Project, Role


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"  # draw and change landslides and mapped extents, import inventories
    REVIEW = "review"  # accept, reject and fix predicted polygons
    MANAGE = "manage"  # members, imagery, training, prediction, reports, deletion


ALLOWED: dict[Action, frozenset[str]] = {
    Action.VIEW: frozenset({Role.ANNOTATOR, Role.REVIEWER, Role.ADMIN}),
    Action.EDIT: frozenset({Role.ANNOTATOR, Role.REVIEWER, Role.ADMIN}),
    Action.REVIEW: frozenset({Role.REVIEWER, Role.ADMIN}),
    Action.MANAGE: frozenset({Role.ADMIN}),
}


def role_of(user, project: Project) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def can(user, project: Project, action: Action) -> bool:
    role = role_of(user, project)
    return role is not None and role in ALLOWED[action]
