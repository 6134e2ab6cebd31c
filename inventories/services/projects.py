"""Projects and their members."""

from __future__ import annotations

from django.db import transaction

from inventories.errors import InvalidInput
from inventories.models import Membership, Project, Role


def project_create(*, name: str, user, **fields) -> Project:
    """Create a project; its creator becomes its admin."""
    if Project.objects.filter(name=name).exists():
        raise InvalidInput(f"A project named {name!r} already exists.")
    with transaction.atomic():
        project = Project.objects.create(name=name, **fields)
        Membership.objects.create(project=project, user=user, role=Role.ADMIN)
    return project


def member_set(*, project: Project, user, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return membership


def member_remove(*, membership: Membership) -> None:
    """Remove a member, but never the last admin: a project must stay manageable."""
    project = membership.project
    admins = project.memberships.filter(role=Role.ADMIN)
    if membership.role == Role.ADMIN and admins.count() == 1:
        raise InvalidInput(
            f"{membership.user} is the last admin of {project.name}; name another first."
        )
    membership.delete()
