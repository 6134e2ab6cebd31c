"""Reads of landslides and extents, bounded so a huge inventory never arrives whole."""

from __future__ import annotations

from django.contrib.gis.geos import Polygon
from django.db.models import QuerySet

from inventories.errors import InvalidInput
from inventories.models import Inventory, Landslide, LandslideChange, MappedExtent


def parse_bbox(value: str | None) -> Polygon | None:
    """'minlon,minlat,maxlon,maxlat' -> Polygon, or an error that quotes what was sent."""
    if not value:
        return None
    parts = value.split(",")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            f"bbox '{value}' must be four numbers: min longitude, min latitude, "
            "max longitude, max latitude."
        ) from None
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InvalidInput(
            f"bbox '{value}' must be minlon,minlat,maxlon,maxlat within -180..180, -90..90, "
            "the minimum below the maximum."
        )
    return Polygon.from_bbox((minx, miny, maxx, maxy))


def _in_bbox(queryset: QuerySet, bbox: Polygon | None) -> QuerySet:
    """The rows whose geometry meets the box (ST_Intersects, through the GiST index).

    Not only their bounding boxes: a long diagonal polygon whose box crosses the
    view but whose outline does not is not "in view" (the map's side list, OGC's bbox).
    """
    if bbox is not None:
        bbox.srid = 4326
        queryset = queryset.filter(geometry__intersects=bbox)
    return queryset.order_by("pk")


def landslides_in_bbox(*, inventory: Inventory, bbox: Polygon | None) -> QuerySet[Landslide]:
    return _in_bbox(inventory.landslides.all(), bbox)


def extents_in_bbox(*, inventory: Inventory, bbox: Polygon | None) -> QuerySet[MappedExtent]:
    return _in_bbox(inventory.mapped_extents.all(), bbox)


def landslide_history(*, landslide_pk: int) -> QuerySet[LandslideChange]:
    return LandslideChange.objects.filter(landslide_pk=landslide_pk).order_by("version")
