"""Writing single landslides and mapped extents with optimistic concurrency.

Every write names the version it read. A stale version raises Conflict with
the current state, so two people editing one polygon see the clash instead
of one silently overwriting the other.
"""

from __future__ import annotations

from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction

from inventories.errors import Conflict, InvalidInput
from inventories.models import Inventory, Landslide, LandslideChange, MappedExtent
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.geometry import to_geos_multipolygon, to_shapely
from mlcore.vector import polygons

EDITABLE_FIELDS = ("landslide_type", "certainty", "notes")
# review_state changes only through the review service (reviewers and admins).
REVIEW_FIELDS = (*EDITABLE_FIELDS, "review_state")
SNAPSHOT_FIELDS = (*REVIEW_FIELDS, "confidence")
# A reviewer kept these predictions: they count as reference and edits to them are audited.
APPROVED = (Landslide.Review.ACCEPTED, Landslide.Review.EDITED)


def clean_geometry(geometry: GEOSGeometry) -> tuple[GEOSGeometry, str | None]:
    """Validate a drawn polygon; repair it (and say why) or refuse with the reason and place."""
    if geometry.srid not in (None, 4326):
        geometry = geometry.transform(4326, clone=True)
    shape = to_shapely(geometry)
    try:
        repaired, reason = polygons.repair_polygon(shape)
    except polygons.GeometryRefused as exc:
        raise InvalidInput(str(exc)) from None
    return to_geos_multipolygon(repaired), reason


def _snapshot(landslide: Landslide) -> dict[str, Any]:
    data = {f: getattr(landslide, f) for f in SNAPSHOT_FIELDS}
    data["area_m2"] = landslide.area_m2
    data["repaired"] = landslide.repaired
    return data


def change_record(landslide: Landslide, action: str, user, **extra: Any) -> None:
    """One history row: the landslide as it is now, with `extra` (a merge's links) beside."""
    LandslideChange.objects.create(
        landslide=landslide if action != LandslideChange.Action.DELETE else None,
        landslide_pk=landslide.pk,
        inventory=landslide.inventory,
        action=action,
        version=landslide.version,
        geometry=landslide.geometry,
        data={**_snapshot(landslide), **extra},
        user=user,
    )


def area_m2(geometry: GEOSGeometry) -> float:
    """A stored (lon/lat) geometry's geodesic area, as every write records it."""
    return float(polygons.geodesic_area_m2([to_shapely(geometry)])[0])


def landslide_create(
    *, inventory: Inventory, geometry: GEOSGeometry, data: dict[str, Any], user
) -> Landslide:
    require(user, inventory.project, Action.EDIT)
    geometry, repaired = clean_geometry(geometry)
    with transaction.atomic():
        landslide = Landslide.objects.create(
            inventory=inventory,
            geometry=geometry,
            area_m2=area_m2(geometry),
            repaired=repaired is not None,
            created_by=user,
            updated_by=user,
            **{k: v for k, v in data.items() if k in EDITABLE_FIELDS},
        )
        change_record(landslide, LandslideChange.Action.CREATE, user)
    return landslide


def check_current(
    current: Landslide, version: int, *, stale: str, frozen: str, review: bool = False
) -> None:
    """The rules every edit of a locked landslide row obeys, each refusal a 409 with its state.

    The caller must have read `version` (someone else's save in between is a
    conflict, never overwritten), and an approved polygon is frozen except to
    the review service (`review`). `stale` and `frozen` end the messages with
    what the refused edit leaves as it was.
    """
    if current.version != version:
        raise Conflict(
            f"Landslide {current.pk} was changed by someone else {stale}", details=current
        )
    if not review and current.review_state in APPROVED:
        raise Conflict(f"Landslide {current.pk} was approved in review {frozen}", details=current)


def landslide_update(
    *,
    landslide: Landslide,
    version: int,
    user,
    geometry: GEOSGeometry | None = None,
    data: dict[str, Any] | None = None,
    review: bool = False,
) -> Landslide:
    """Change a landslide's outline or attributes as version `version + 1`.

    An approved polygon (accepted or edited in review) is frozen: only the
    review service (`review=True`) may change it, after reopening it.
    """
    require(user, landslide.inventory.project, Action.EDIT)
    data = data or {}
    if geometry is not None:
        geometry, repaired = clean_geometry(geometry)
    with transaction.atomic():
        current = Landslide.objects.select_for_update().get(pk=landslide.pk)
        check_current(
            current,
            version,
            stale=f"(you edited version {version}, it is now at version {current.version}). "
            "Reload it and choose which outline to keep.",
            frozen="and is frozen; a reviewer must reopen it before it can change.",
            review=review,
        )
        if geometry is not None:
            current.geometry = geometry
            current.area_m2 = area_m2(geometry)
            current.repaired = repaired is not None
        for key, value in data.items():
            if key in (REVIEW_FIELDS if review else EDITABLE_FIELDS):
                setattr(current, key, value)
        current.version += 1
        current.updated_by = user
        current.save()
        change_record(current, LandslideChange.Action.UPDATE, user)
    return current


def landslide_delete(*, landslide: Landslide, version: int, user) -> None:
    require(user, landslide.inventory.project, Action.EDIT)
    with transaction.atomic():
        current = Landslide.objects.select_for_update().get(pk=landslide.pk)
        check_current(
            current,
            version,
            stale=f"(you saw version {version}, it is now at version {current.version}); "
            "it was not deleted.",
            frozen="; a reviewer must reopen it before it can be deleted.",
        )
        current.version += 1
        change_record(current, LandslideChange.Action.DELETE, user)
        current.delete()


def extent_create(*, inventory: Inventory, geometry: GEOSGeometry, split: str, name: str, user):
    require(user, inventory.project, Action.EDIT)
    geometry, _ = clean_geometry(geometry)
    return MappedExtent.objects.create(
        inventory=inventory, geometry=geometry, split=split, name=name, created_by=user
    )


def extent_update(
    *,
    extent: MappedExtent,
    version: int,
    user,
    geometry: GEOSGeometry | None = None,
    split: str | None = None,
    name: str | None = None,
) -> MappedExtent:
    require(user, extent.inventory.project, Action.EDIT)
    if geometry is not None:
        geometry, _ = clean_geometry(geometry)
    with transaction.atomic():
        current = MappedExtent.objects.select_for_update().get(pk=extent.pk)
        if current.version != version:
            raise Conflict(
                f"Mapped extent {current.pk} was changed by someone else (version {version} "
                f"edited, now {current.version}).",
                details=current,
            )
        if geometry is not None:
            current.geometry = geometry
        if split is not None:
            current.split = split
        if name is not None:
            current.name = name
        current.version += 1
        current.save()
    return current


def extent_delete(*, extent: MappedExtent, version: int, user) -> None:
    require(user, extent.inventory.project, Action.EDIT)
    with transaction.atomic():
        current = MappedExtent.objects.select_for_update().get(pk=extent.pk)
        if current.version != version:
            raise Conflict(
                f"Mapped extent {current.pk} was changed by someone else; it was not deleted.",
                details=current,
            )
        current.delete()
