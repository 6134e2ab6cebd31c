"""Landslide polygons in and out: read, check, repair, measure and write them.

`read_polygons` is all or nothing: every feature must be a polygon (or be
repaired into one, and say so) or the whole file is refused with a list of
every bad feature. Nothing about a file is assumed: its CRS is the one it
declares, or the file is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from mlcore.errors import MlcoreError
from mlcore.vector.areas import geodesic_area_m2, outline_area
from mlcore.vector.export import WRITABLE_SUFFIXES, write_layer
from mlcore.vector.formats import (
    FORMAT_BY_SUFFIX,
    SUPPORTED_SUFFIXES,
    FeatureProblem,
    RawLayer,
    VectorFileError,
    detect_format,
    object_array,
    read_ogr,
)
from mlcore.vector.kml import read_kml
from mlcore.vector.shapefile_zip import read_zipped_shapefile

__all__ = [
    "SUPPORTED_SUFFIXES",
    "WRITABLE_SUFFIXES",
    "FeatureProblem",
    "GeometryRefused",
    "PolygonFile",
    "VectorFileError",
    "geodesic_area_m2",
    "read_polygons",
    "repair_polygon",
    "write_polygons",
]

MAX_AREA_CHANGE = 0.01
_WGS84 = CRS.from_epsg(4326)
_POLYGON, _MULTIPOLYGON, _COLLECTION = 3, 6, 7


class GeometryRefused(MlcoreError):
    """A single drawn polygon that cannot be stored; `problem` says why and where."""

    def __init__(self, problem: FeatureProblem) -> None:
        self.problem = problem
        super().__init__(f"The shape cannot be stored: {problem.detail}. Redraw it.")


@dataclass
class PolygonFile:
    """A polygon layer that passed every check, ready to store.

    `frame` holds the file's attribute columns (a name clashing with
    "area_m2", "repaired" or "geometry" gets the prefix "src_"), the geodesic
    "area_m2", a bool "repaired", and MultiPolygon geometries in the target CRS
    with counter-clockwise shells and clockwise holes.
    """

    frame: GeoDataFrame
    source_crs: str
    source_format: str
    layer: str | None
    repaired: list[FeatureProblem] = field(default_factory=list)


def read_polygons(
    path: Path,
    *,
    target_crs: str = "EPSG:4326",
    repair: bool = True,
    max_bytes: int = 2 * 1024**3,
    max_features: int = 1_000_000,
    layer: str | None = None,
) -> PolygonFile:
    """Read a GeoJSON, GeoPackage, zipped Shapefile or KML file of landslide polygons.

    Raises VectorFileError naming every bad feature (or the file's problem);
    nothing partial is ever returned. Invalid polygons are repaired with
    shapely.make_valid when `repair` and the repair keeps the area within 1%.
    """
    path = Path(path)
    driver = detect_format(path)
    if driver == "KML":
        if layer is not None:
            raise VectorFileError(f"{path.name}: a KML file is read as one layer; give no layer.")
        raw = read_kml(path, max_bytes=max_bytes, max_features=max_features)
    elif driver == "ESRI Shapefile":
        raw = read_zipped_shapefile(
            path, layer=layer, max_bytes=max_bytes, max_features=max_features
        )
    else:
        raw = read_ogr(path, driver, layer=layer, max_bytes=max_bytes, max_features=max_features)
    if len(raw) == 0:
        raise VectorFileError(f"{path.name} holds no features; there is nothing to import.")
    source = _declared_crs(raw, path)
    target = CRS.from_user_input(target_crs)
    geometries, repaired, problems = _checked(raw, source, target, repair)
    if problems:
        raise VectorFileError(
            f"{path.name}: {len(problems)} of {len(raw)} features cannot be imported, so "
            "nothing was; fix them in a GIS and upload the file again.",
            problems,
        )
    lon_lat = _reprojected(geometries, np.ones(len(raw), dtype=bool), target, _WGS84)
    frame = _frame(raw, geometries, geodesic_area_m2(lon_lat), repaired, target)
    return PolygonFile(
        frame=frame,
        source_crs=raw.crs,
        source_format=raw.driver,
        layer=raw.layer,
        repaired=repaired,
    )


def repair_polygon(geometry: BaseGeometry) -> tuple[shapely.MultiPolygon, str | None]:
    """Check one lon/lat polygon (drawn on the map) by the rules of `read_polygons`.

    Returns it as a MultiPolygon with None, or repaired with the reason and
    place ("Self-intersection at 98.69, 31.14"); raises GeometryRefused otherwise.
    """
    raw = RawLayer(
        geometries=object_array([geometry]),
        columns={},
        feature_ids=[None],
        crs="EPSG:4326",
        driver="drawn",
        layer=None,
    )
    geometries, repaired, problems = _checked(raw, _WGS84, _WGS84, repair=True)
    if problems:
        raise GeometryRefused(problems[0])
    return geometries[0], repaired[0].detail if repaired else None


def _checked(
    raw: RawLayer, source: CRS, target: CRS, repair: bool
) -> tuple[np.ndarray, list[FeatureProblem], list[FeatureProblem]]:
    """Every geometry rule, for all features: (geometries in `target`, repairs, problems)."""
    geometries, problems = _as_multipolygons(raw)
    ok = ~shapely.is_missing(geometries)  # features still worth checking further
    if source.is_geographic:
        problems += _excluded(ok, _outside_lon_lat(geometries, ok, raw))
    geometries = _reprojected(geometries, ok, source, target)
    problems += _excluded(ok, _unprojectable(geometries, ok, raw, target))
    repaired, invalid = _repaired(geometries, ok, raw, target, repair)
    # One orientation (RFC 7946's) whatever the format wrote, so round trips are exact.
    geometries[ok] = shapely.orient_polygons(geometries[ok], exterior_cw=False)
    return geometries, repaired, sorted(problems + invalid, key=lambda p: p.number)


def _declared_crs(raw: RawLayer, path: Path) -> CRS:
    if raw.crs is None:
        how = {
            "ESRI Shapefile": "add its .prj file to the zip (your GIS writes it beside the .shp)",
            "GPKG": "assign the layer a CRS in your GIS and export it again",
        }.get(raw.driver, "export it again with its CRS")
        raise VectorFileError(f"{path.name} has no coordinate reference system; {how}.")
    return CRS.from_user_input(raw.crs)


def _excluded(ok: np.ndarray, problems: list[FeatureProblem]) -> list[FeatureProblem]:
    """Drop features with a problem from later checks, so each is reported once."""
    ok[[p.number - 1 for p in problems]] = False
    return problems


def _problem(raw: RawLayer, index: int, reason: str, location=None) -> FeatureProblem:
    return FeatureProblem(index + 1, raw.feature_ids[index], reason, location)


def _as_multipolygons(raw: RawLayer) -> tuple[np.ndarray, list[FeatureProblem]]:
    """Every feature as a 2D MultiPolygon, or None with a problem saying why not."""
    geometries = shapely.force_2d(raw.geometries)
    out = np.full(len(geometries), None, dtype=object)
    problems = [_problem(raw, i, why) for i, why in raw.geometry_errors.items()]
    types = shapely.get_type_id(geometries)
    empty = shapely.is_empty(geometries)
    polygons = (types == _POLYGON) & ~empty
    out[polygons] = shapely.multipolygons(geometries[polygons][:, np.newaxis])
    multi = (types == _MULTIPOLYGON) & ~empty
    out[multi] = geometries[multi]
    for i in np.flatnonzero(~(polygons | multi)):
        geometry = geometries[i]
        if i in raw.geometry_errors:
            continue
        if geometry is None:
            problems.append(_problem(raw, i, "no geometry"))
        elif geometry.is_empty:
            problems.append(_problem(raw, i, "empty geometry"))
        elif types[i] == _COLLECTION:
            parts = shapely.get_parts(shapely.get_parts(geometry))
            others = sorted({p.geom_type for p in parts if p.geom_type != "Polygon"})
            if others:
                problems.append(_problem(raw, i, f"not only polygons ({', '.join(others)})"))
            else:
                out[i] = shapely.MultiPolygon(list(parts))
        else:
            problems.append(_problem(raw, i, f"not a polygon ({geometry.geom_type})"))
    return out, problems


def _outside_lon_lat(geometries: np.ndarray, ok: np.ndarray, raw: RawLayer) -> list[FeatureProblem]:
    """Projected metres declared as degrees must not pass as a place on Earth."""
    bounds = shapely.bounds(geometries[ok])
    bad = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (np.abs(bounds[:, [1, 3]]) > 90).any(
        axis=1
    )
    problems = []
    for i, row in zip(np.flatnonzero(ok)[bad], bounds[bad], strict=True):
        reason = (
            f"coordinates ({row[0]:.1f}, {row[1]:.1f}) cannot be longitude, latitude; they "
            f"look like projected metres, but the file declares {raw.crs}"
        )
        problems.append(_problem(raw, i, reason))
    return problems


def _reprojected(geometries: np.ndarray, ok: np.ndarray, source: CRS, target: CRS) -> np.ndarray:
    if source == target:
        return geometries
    transformer = Transformer.from_crs(source, target, always_xy=True)
    out = geometries.copy()
    out[ok] = shapely.transform(geometries[ok], transformer.transform, interleaved=False)
    return out


def _unprojectable(
    geometries: np.ndarray, ok: np.ndarray, raw: RawLayer, target: CRS
) -> list[FeatureProblem]:
    finite = np.isfinite(shapely.bounds(geometries[ok])).all(axis=1)
    problems = []
    for i in np.flatnonzero(ok)[~finite]:
        reason = f"coordinates cannot be transformed to {target.to_string()}"
        problems.append(_problem(raw, i, reason))
    return problems


def _repaired(
    geometries: np.ndarray, ok: np.ndarray, raw: RawLayer, crs: CRS, repair: bool
) -> tuple[list[FeatureProblem], list[FeatureProblem]]:
    """Repair invalid polygons in place; return (repairs made, features refused).

    A repair that changes the area by more than 1% of what the outline
    encloses (its shoelace area where the rings are simple; see outline_area)
    is a guess: a hole outside its shell, a region traced twice. Such a
    feature is refused and the mapper fixes it by hand.
    """
    index = np.flatnonzero(ok)
    invalid = index[~shapely.is_valid(geometries[index])]
    if len(invalid) == 0:
        return [], []
    reasons = shapely.is_valid_reason(geometries[invalid])
    to_lon_lat = None if crs == _WGS84 else Transformer.from_crs(crs, _WGS84, always_xy=True)
    fixed = shapely.make_valid(geometries[invalid]) if repair else geometries[invalid]
    fixed = np.array([_polygonal_part(g) for g in fixed], dtype=object) if repair else fixed
    before = np.array([outline_area(g) for g in geometries[invalid]])
    after = shapely.area(fixed)
    repaired, refused = [], []
    for i, reason, geometry, old, new in zip(invalid, reasons, fixed, before, after, strict=True):
        text, location = _split_reason(reason, to_lon_lat)
        change = abs(new - old) / old if old > 0 else np.inf
        if not repair:
            refused.append(_problem(raw, i, text, location))
        elif geometry is None:
            refused.append(_problem(raw, i, f"{text} (repairing it leaves no polygon)", location))
        elif change > MAX_AREA_CHANGE:
            why = f"{text} (repairing it would change the area by {_percent(change)})"
            refused.append(_problem(raw, i, why, location))
        else:
            geometries[i] = geometry
            repaired.append(_problem(raw, i, text, location))
    return repaired, refused


def _polygonal_part(geometry: BaseGeometry) -> shapely.MultiPolygon | None:
    parts = [p for p in shapely.get_parts(shapely.get_parts(geometry)) if p.geom_type == "Polygon"]
    polygon = shapely.MultiPolygon(parts) if parts else None
    return polygon if polygon is not None and not polygon.is_empty else None


_REASON = re.compile(r"^(?P<text>.*?)\s*\[(?P<x>[-+0-9.eE]+)\s+(?P<y>[-+0-9.eE]+)[^\]]*\]$")


def _split_reason(
    reason: str, to_lon_lat: Transformer | None
) -> tuple[str, tuple[float, float] | None]:
    """GEOS says "Self-intersection[x y]"; split it into words and a lon, lat."""
    match = _REASON.match(reason)
    if not match:
        return reason, None
    x, y = float(match["x"]), float(match["y"])
    if to_lon_lat is not None:
        x, y = to_lon_lat.transform(x, y)
    return match["text"], (float(x), float(y))


def _percent(change: float) -> str:
    return "100% or more" if change >= 1 else f"{change:.1%}"


def _frame(
    raw: RawLayer,
    geometries: np.ndarray,
    areas: np.ndarray,
    repaired: list[FeatureProblem],
    crs: CRS,
) -> GeoDataFrame:
    taken = {"area_m2", "repaired", "geometry"}
    data: dict[str, pd.Series] = {}
    for name, values in raw.columns.items():
        new_name = name
        while new_name.lower() in taken:
            new_name = "src_" + new_name
        taken.add(new_name.lower())
        dtype = object if values.dtype == object else None
        data[new_name] = pd.Series(values, dtype=dtype)
    flags = np.zeros(len(geometries), dtype=bool)
    flags[[p.number - 1 for p in repaired]] = True
    data["area_m2"] = pd.Series(areas, dtype=float)
    data["repaired"] = pd.Series(flags, dtype=bool)
    return GeoDataFrame(data, geometry=GeoSeries(geometries, crs=crs), crs=crs)


def write_polygons(frame: GeoDataFrame, path: Path, *, crs: str | None = None) -> Path:
    """Write every column of `frame` to `path` atomically; the format comes from the suffix.

    .geojson/.json is RFC 7946, so always EPSG:4326 whatever `crs` says;
    .gpkg and .zip (a zipped ESRI Shapefile) are reprojected to `crs` first
    when given. In a Shapefile, column names are cut to 10 bytes (two names
    that would meet are refused). A frame from `read_polygons` carries
    "area_m2" and "repaired"; written, they come back as "src_area_m2" and
    "src_repaired" on the next read, so drop them first if unwanted.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise ValueError(f"Cannot write {suffix!r}; use one of {', '.join(WRITABLE_SUFFIXES)}.")
    if frame.crs is None:
        raise ValueError("The frame has no CRS; set one before writing it.")
    driver = FORMAT_BY_SUFFIX[suffix]
    out_crs = "EPSG:4326" if driver == "GeoJSON" else crs
    write_layer(frame.to_crs(out_crs) if out_crs else frame, path, driver)
    return path
