"""The inputs of an accuracy report: polygon files, the evaluation area, and the working CRS.

Areas and overlaps are measured in one CRS in metres: the evaluation area's
own CRS when it distorts areas by at most 0.5% there (UTM over one zone
does), so the pixel grid lines up with the data's grid; otherwise (degrees,
Web Mercator) a Lambert azimuthal equal-area projection centred on the area.

Only features intersecting the evaluation area count, and each is clipped to
it: a landslide straddling the boundary is represented by its inside part in
IoU, area and area-frequency alike, because outside the area the reference is
not known to be complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Proj

from mlcore.errors import MlcoreError
from mlcore.vector import polygons as vectors

_POLYGONAL = ("Polygon", "MultiPolygon")
MAX_AREAL_DISTORTION = 0.005


class EvaluationInputError(MlcoreError):
    """An inventory or evaluation area that cannot be compared."""


@dataclass(frozen=True)
class Polygons:
    """One inventory inside the evaluation area, in the working CRS.

    `ids` are the source features' ids (file feature ids, or the index of a
    GeoDataFrame passed in), kept so TP/FP/FN can point back at them.
    """

    name: str
    ids: np.ndarray
    geoms: np.ndarray
    areas_m2: np.ndarray
    n_clipped: int = 0
    n_repaired: int = 0

    def __len__(self) -> int:
        return len(self.geoms)


def read_polygon_file(path: str | Path) -> gpd.GeoDataFrame:
    """Read a vector file through mlcore.vector.polygons: the same format, zip and geometry
    checks as an inventory import, so a file the app refuses is refused here too."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationInputError(f"{path}: no such file; check the path and try again.")
    frame = vectors.read_polygons(path).frame
    return check_polygon_frame(frame, path.name)


def check_polygon_frame(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Refuse a frame without a CRS or with non-polygon features; drop null geometries."""
    if frame.crs is None:
        raise EvaluationInputError(
            f"{name} has no coordinate reference system; "
            "save it with its CRS (for example as GeoPackage) and try again."
        )
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    types = set(frame.geom_type.unique())
    if not types <= set(_POLYGONAL):
        wrong = ", ".join(sorted(types - set(_POLYGONAL)))
        raise EvaluationInputError(
            f"{name} holds {wrong} features; an inventory or area must be polygons."
        )
    return frame


def working_crs(area: gpd.GeoDataFrame) -> CRS:
    """The area's CRS if it is in metres and nearly equal-area over the area, else a local LAEA."""
    crs = CRS(area.crs)
    lonlat = gpd.GeoSeries(
        [area.union_all().centroid, *shapely.points(_corners(area.total_bounds))], crs=crs
    ).to_crs(4326)
    if crs.is_projected and crs.axis_info[0].unit_name == "metre":
        factors = Proj(crs).get_factors(lonlat.x.to_numpy(), lonlat.y.to_numpy())
        if np.all(np.abs(np.asarray(factors.areal_scale) - 1.0) <= MAX_AREAL_DISTORTION):
            return crs
    centre = lonlat.iloc[0]
    return CRS.from_proj4(
        f"+proj=laea +lat_0={centre.y:.6f} +lon_0={centre.x:.6f} "
        "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def _corners(bounds: np.ndarray) -> np.ndarray:
    xmin, ymin, xmax, ymax = bounds
    return np.array([(xmin, ymin), (xmin, ymax), (xmax, ymin), (xmax, ymax)])


def evaluation_area(area: gpd.GeoDataFrame, name: str) -> tuple[CRS, shapely.Geometry]:
    """The working CRS and the union of the area's polygons in it; refused if empty."""
    geoms, _ = _repaired(np.asarray(area.geometry.values))
    union = shapely.union_all(geoms) if len(geoms) else shapely.Polygon()
    if union.is_empty or union.area <= 0:
        raise EvaluationInputError(
            f"{name} has no area to evaluate over (no polygon features, or only "
            "empty ones); draw or export the evaluation area and try again."
        )
    area = gpd.GeoDataFrame(geometry=[union], crs=area.crs)
    crs = working_crs(area)
    return crs, area.to_crs(crs).geometry.iloc[0]


def polygons_in_area(
    frame: gpd.GeoDataFrame, area: shapely.Geometry, crs: CRS, name: str
) -> Polygons:
    """Reproject, repair and clip an inventory to the evaluation area.

    Raises when the inventory has features but lies elsewhere than the area,
    which almost always means the wrong file or a wrong CRS.
    """
    geoms = np.asarray(frame.to_crs(crs).geometry.values)
    ids = np.asarray(frame.index)
    if len(geoms):
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        if not shapely.box(xmin, ymin, xmax, ymax).intersects(area):
            raise EvaluationInputError(
                f"{name} does not overlap the evaluation area; check that both "
                "cover the same place and carry the right CRS."
            )
    geoms, n_repaired = _repaired(geoms)
    shapely.prepare(area)
    inside = shapely.contains_properly(area, geoms)
    crossing = ~inside & shapely.intersects(area, geoms)
    clipped, _ = _repaired(shapely.intersection(geoms[crossing], area))
    # Touching the boundary from inside is not crossing it: only a lost area counts.
    cut = shapely.area(clipped) < shapely.area(geoms[crossing]) * (1 - 1e-9)
    geoms = geoms.copy()
    geoms[crossing] = clipped
    keep = inside | crossing
    keep[keep] = shapely.area(geoms[keep]) > 0
    n_clipped = int(np.count_nonzero(cut & keep[crossing]))
    geoms, ids = geoms[keep], ids[keep]
    return Polygons(
        name=name,
        ids=ids,
        geoms=geoms,
        areas_m2=shapely.area(geoms),
        n_clipped=n_clipped,
        n_repaired=n_repaired,
    )


def _repaired(geoms: np.ndarray) -> tuple[np.ndarray, int]:
    """Make geometries valid and keep only their polygonal parts; count the repairs."""
    geoms = np.asarray(geoms, dtype=object)
    bad = ~shapely.is_valid(geoms)
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    mixed = np.flatnonzero(~np.isin(shapely.get_type_id(geoms), (3, 6)))
    if len(mixed):
        geoms = geoms.copy()
        for i in mixed:
            parts = shapely.get_parts(geoms[i])
            parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
            geoms[i] = shapely.union_all(parts) if len(parts) else shapely.Polygon()
    return geoms, n_bad
