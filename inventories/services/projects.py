"""Projects and their members.

A project always keeps an admin: the last one can neither leave nor be
demoted, whoever asks (the API, the Django admin's inline, a command).

Project names are unique per creator, as repositories are per owner on a
code host: a name taken by a project the user cannot see is simply free for
them, so creating or renaming a project tells nobody what others have.
"""

from __future__ import annotations

from typing import Any

from django.contrib.gis.geos import MultiPolygon
from django.db import IntegrityError, transaction

from inventories.errors import InvalidInput
from inventories.models import Membership, Project, Role
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.geometry import geometry_from_geojson, to_geos_multipolygon, to_shapely
from inventories.services.names import check_name

AREA = "The area of interest"


def _name_free(*, name: str, creator, exclude: Project | None = None) -> None:
    taken = Project.objects.filter(name=name, created_by=creator)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if creator is not None and taken.exists():
        raise InvalidInput(f"You already have a project named {name!r}; choose another name.")


def area_of_interest(value: Any) -> MultiPolygon | None:
    """A client's GeoJSON area (a Polygon, MultiPolygon or a Feature of one) as the stored
    lon/lat MultiPolygon; None clears it. A crossed outline is refused, not repaired: the
    user drew it on a map and can redraw it, where a silent repair could change the area."""
    if value is None:
        return None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    try:
        geometry = geometry_from_geojson(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{AREA} was refused: {exc.message}") from None
    shape = to_shapely(geometry)
    parts = getattr(shape, "geoms", [shape])
    if not geometry.valid or any(ring.is_empty for p in parts for ring in p.interiors):
        reason = geometry.valid_reason if not geometry.valid else "a hole without points"
        raise InvalidInput(
            f"{AREA} is not a valid polygon ({reason}); redraw it without crossing edges."
        )
    return to_geos_multipolygon(shape)


def project_create(*, name: str, user, **fields) -> Project:
    """Create a project; its creator becomes its admin. `area_of_interest` is GeoJSON."""
    name = check_name(name, what="The project name")
    _name_free(name=name, creator=user)
    if "area_of_interest" in fields:
        fields["area_of_interest"] = area_of_interest(fields["area_of_interest"])
    try:
        with transaction.atomic():
            project = Project.objects.create(name=name, created_by=user, **fields)
            Membership.objects.create(project=project, user=user, role=Role.ADMIN)
    except IntegrityError:
        raise InvalidInput(
            f"You already have a project named {name!r}; choose another name."
        ) from None
    return project


def project_update(*, project: Project, user, **fields) -> Project:
    """Change a project's name, description, trigger, date or area (GeoJSON); only its
    admins may."""
    require(user, project, Action.MANAGE)
    if "area_of_interest" in fields:
        fields["area_of_interest"] = area_of_interest(fields["area_of_interest"])
    if "name" in fields:
        fields["name"] = check_name(fields["name"], what="The project name")
        _name_free(name=fields["name"], creator=project.created_by, exclude=project)
    for key, value in fields.items():
        setattr(project, key, value)
    project.save(update_fields=list(fields) or None)
    return project


def _keeps_an_admin(membership: Membership) -> None:
    project = membership.project
    others = project.memberships.filter(role=Role.ADMIN).exclude(pk=membership.pk)
    if membership.role == Role.ADMIN and not others.exists():
        raise InvalidInput(
            f"{membership.user} is the last admin of {project.name}; name another first."
        )


def roles_keep_an_admin(*, project: Project, roles: list[str]) -> None:
    """Refuse a new set of roles for all of `project`'s members that names no admin."""
    if Role.ADMIN not in roles:
        raise InvalidInput(f"{project.name} must keep at least one admin; name another first.")


def member_set(*, project: Project, user, role: str, by) -> Membership:
    """Add `user` as a member or change their role, asked by `by`, an admin of the project;
    the last admin cannot be demoted."""
    require(by, project, Action.MANAGE)
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    with transaction.atomic():
        current = Membership.objects.select_for_update().filter(project=project, user=user).first()
        if current is not None and role != Role.ADMIN:
            Project.objects.select_for_update().filter(pk=project.pk).first()
            _keeps_an_admin(current)
        membership, _ = Membership.objects.update_or_create(
            project=project, user=user, defaults={"role": role}
        )
    return membership


def member_remove(*, membership: Membership, by) -> None:
    """Remove a member, asked by an admin of the project, but never the last admin: a project
    must stay manageable."""
    require(by, membership.project, Action.MANAGE)
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=membership.project_id).first()
        _keeps_an_admin(membership)
        membership.delete()
