"""Merging several landslides into one: the union, saved as one versioned edit.

A mapper who drew one landslide as two pieces (or a model that split one)
merges them. The largest piece is kept, with its id and attributes, and
takes the union as its new version; the others are deleted. Every piece
gets its history row, with `merged_into` / `merged_from` in its data, so a
merged-away landslide can still be found and its outline read back.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from shapely.ops import unary_union

from inventories.errors import InvalidInput, NotFound
from inventories.models import Landslide, LandslideChange
from inventories.permissions import Action
from inventories.selectors.projects import projects_for_user, require
from inventories.services.geometry import to_geos_multipolygon, to_shapely
from inventories.services.landslides import (
    area_m2,
    change_record,
    check_current,
    clean_geometry,
)


def landslides_merge(*, pieces: Sequence[tuple[int, int]], user) -> Landslide:
    """Merge the landslides `pieces` ((id, version read) pairs) into the largest of them.

    All must be in one inventory of one of the user's projects (others are
    simply not found) and be at the version the caller read; an approved
    (reviewed) polygon is frozen like for any other edit. Nothing is written
    unless everything is right.
    """
    versions = dict(pieces)
    if len(versions) < 2 or len(versions) != len(pieces):
        raise InvalidInput("Select two or more different landslides to merge.")
    with transaction.atomic():
        found = list(
            Landslide.objects.select_for_update()
            .filter(pk__in=versions, inventory__project__in=projects_for_user(user))
            .select_related("inventory__project")
            .order_by("pk")
        )
        missing = sorted(set(versions) - {landslide.pk for landslide in found})
        if missing:
            raise NotFound(f"No such landslide: {', '.join(map(str, missing))}.")
        inventories = {landslide.inventory_id for landslide in found}
        if len(inventories) > 1:
            raise InvalidInput(
                "Only landslides of one inventory can be merged; these are in "
                f"{len(inventories)} inventories."
            )
        require(user, found[0].inventory.project, Action.EDIT)
        for landslide in found:
            seen = versions[landslide.pk]
            check_current(
                landslide,
                seen,
                stale=f"(you saw version {seen}, it is now at version {landslide.version}); "
                "nothing was merged.",
                frozen="and is frozen; a reviewer must reopen it before it can be merged.",
            )
        kept = max(found, key=lambda landslide: (landslide.area_m2, -landslide.pk))
        others = [landslide for landslide in found if landslide is not kept]
        merged_from = [other.pk for other in others]
        union = unary_union([to_shapely(landslide.geometry) for landslide in found])
        geometry, repaired = clean_geometry(to_geos_multipolygon(union))
        for other in others:
            other.version += 1
            change_record(other, LandslideChange.Action.DELETE, user, merged_into=kept.pk)
            other.delete()
        kept.geometry = geometry
        kept.area_m2 = area_m2(geometry)
        kept.repaired = repaired is not None
        kept.version += 1
        kept.updated_by = user
        kept.save()
        change_record(
            kept,
            LandslideChange.Action.UPDATE,
            user,
            merged_from=merged_from,
        )
    return kept
