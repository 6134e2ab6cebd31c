"""Shapely <-> GEOS conversion for services, in one place."""

from __future__ import annotations

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from shapely import force_2d, wkb
from shapely.errors import GEOSException
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from inventories.errors import InvalidInput


def to_geos_multipolygon(geom: BaseGeometry, srid: int = 4326) -> MultiPolygon:
    result = GEOSGeometry(geom.wkb_hex, srid=srid)
    if isinstance(result, Polygon):
        result = MultiPolygon(result, srid=srid)
    return result


def to_shapely(geom: GEOSGeometry) -> BaseGeometry:
    return wkb.loads(bytes(geom.wkb))


def geometry_from_geojson(value) -> GEOSGeometry:
    """Parse a GeoJSON Polygon/MultiPolygon (lon/lat) sent by a client.

    Parsed by shapely, not GDAL, so no client string reaches GDAL. Heights are dropped:
    the stored fields are 2D, and PostGIS refuses a Z geometry in them.
    """
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidInput("The geometry must be a GeoJSON Polygon or MultiPolygon.")
    if "coordinates" not in value:
        raise InvalidInput("The geometry has no coordinates.")
    try:
        geom = force_2d(shape(value))
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, GEOSException) as exc:
        raise InvalidInput(f"The geometry is not valid GeoJSON: {exc}.") from None
    if geom.is_empty:
        raise InvalidInput("The geometry is empty.")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InvalidInput(
            "The geometry's coordinates are not longitude/latitude (outside -180..180, -90..90)."
        )
    return GEOSGeometry(geom.wkb_hex, srid=4326)
