"""Geodesic areas of lon/lat polygons on the WGS84 ellipsoid, for many at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoSeries
from pyproj import CRS, Geod
from shapely.geometry.base import BaseGeometry

_GEOD = Geod(ellps="WGS84")

# WGS84 and its authalic sphere: latitude beta on a sphere of radius _R_Q
# keeps areas of the ellipsoid exactly.
_A = 6378137.0
_E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)
_E = np.sqrt(_E2)
_LARGE_DEGREES = 2.0


def _q(sin_phi: np.ndarray) -> np.ndarray:
    return (1 - _E2) * (
        sin_phi / (1 - _E2 * sin_phi**2)
        - np.log((1 - _E * sin_phi) / (1 + _E * sin_phi)) / (2 * _E)
    )


_Q_POLE = float(_q(np.array(1.0)))
_R_Q = _A * np.sqrt(_Q_POLE / 2)


def geodesic_area_m2(geoms: Sequence[BaseGeometry] | GeoSeries) -> np.ndarray:
    """Areas in m2 on the WGS84 ellipsoid of lon/lat polygons (None gives NaN).

    Each polygon is projected to a Lambert azimuthal equal-area plane centred
    on itself, built on WGS84's authalic sphere, so its area is the
    ellipsoid's; all features at once in numpy, 10-100x faster than a Python
    loop over pyproj.Geod. Features wider than 2 degrees, where straight
    projected edges would start to differ from geodesics, go through
    Geod.geometry_area_perimeter. Agrees with Geod to ~1e-6 for landslides.
    """
    geometries = np.asarray(geoms.values if isinstance(geoms, GeoSeries) else geoms, dtype=object)
    areas = np.full(len(geometries), np.nan)
    present = ~pd.isna(geometries)
    bounds = shapely.bounds(geometries[present])
    large = (bounds[:, 2] - bounds[:, 0] > _LARGE_DEGREES) | (
        bounds[:, 3] - bounds[:, 1] > _LARGE_DEGREES
    )
    small_index = np.flatnonzero(present)[~large]
    areas[small_index] = _equal_area_areas(geometries[small_index], bounds[~large])
    for i in np.flatnonzero(present)[large]:
        areas[i] = abs(_GEOD.geometry_area_perimeter(geometries[i])[0])
    return areas


def _equal_area_areas(geometries: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    coords, owner = shapely.get_coordinates(geometries, return_index=True)
    centre_lon = np.radians((bounds[:, 0] + bounds[:, 2]) / 2)[owner]
    centre_beta = _authalic(np.radians((bounds[:, 1] + bounds[:, 3]) / 2))[owner]
    lon, beta = np.radians(coords[:, 0]), _authalic(np.radians(coords[:, 1]))
    d_lon = lon - centre_lon
    cos_c = np.sin(centre_beta) * np.sin(beta) + np.cos(centre_beta) * np.cos(beta) * np.cos(d_lon)
    k = np.sqrt(2 / (1 + cos_c))
    x = _R_Q * k * np.cos(beta) * np.sin(d_lon)
    y = (
        _R_Q
        * k
        * (np.cos(centre_beta) * np.sin(beta) - np.sin(centre_beta) * np.cos(beta) * np.cos(d_lon))
    )
    projected = shapely.set_coordinates(geometries.copy(), np.column_stack([x, y]))
    return shapely.area(projected)


def _authalic(phi: np.ndarray) -> np.ndarray:
    return np.arcsin(np.clip(_q(np.sin(phi)) / _Q_POLE, -1, 1))


def outline_area(geometry: BaseGeometry) -> float:
    """The planar area a (possibly invalid) polygon's rings enclose, by winding number.

    Each place counts as often as the shell winds around it, less what the
    holes enclose. For a simple ring this is the shoelace area; for a bow-tie
    it is both lobes, which the shoelace would cancel to zero; a region traced
    twice counts twice. make_valid keeps each region once, so comparing with
    this says whether a repair kept what the mapper drew.
    """
    total = 0.0
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        rings = [polygon.exterior, *polygon.interiors]
        for k, ring in enumerate(rings):
            total += (1.0 if k == 0 else -1.0) * _winding_area(np.asarray(ring.coords))
    return total


def _winding_area(xy: np.ndarray) -> float:
    try:
        faces = shapely.get_parts(
            shapely.polygonize(shapely.get_parts(shapely.node(shapely.LineString(xy))))
        )
    except (shapely.errors.GEOSException, ValueError):
        return abs(float(shapely.area(shapely.Polygon(xy)))) if len(xy) >= 4 else 0.0
    if len(faces) == 0:
        return 0.0
    inside = shapely.get_coordinates(shapely.point_on_surface(faces))
    return float(np.sum(np.abs(_winding_numbers(xy, inside)) * shapely.area(faces)))


def _winding_numbers(ring: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How often `ring` winds around each point (Sunday's crossing rule)."""
    x0, y0, x1, y1 = ring[:-1, 0], ring[:-1, 1], ring[1:, 0], ring[1:, 1]
    px, py = points[:, :1], points[:, 1:2]
    side = (x1 - x0) * (py - y0) - (px - x0) * (y1 - y0)
    up = (y0 <= py) & (y1 > py) & (side > 0)
    down = (y0 > py) & (y1 <= py) & (side < 0)
    return up.sum(axis=1) - down.sum(axis=1)


def areas_m2(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Areas in square metres: planar in a projected CRS (in its units), geodesic in lon/lat."""
    if len(geoms) == 0:
        return np.zeros(0)
    if crs.is_geographic:
        return geodesic_area_m2(geoms)
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return shapely.area(geoms) * factor**2
