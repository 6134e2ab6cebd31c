"""The inputs of an accuracy report: polygon files, the evaluation area, and the working CRS.

Areas and overlaps are measured in one local Lambert azimuthal equal-area
projection centred on the evaluation area, whatever CRS the inputs come in:
UTM or Web Mercator would distort areas, and the two inventories must be
compared in the same units.

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
import pyogrio
import shapely
from pyproj import CRS

from mlcore.errors import MlcoreError

_POLYGONAL = ("Polygon", "MultiPolygon")


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
    """Read a vector file with its feature ids as the index.

    The one place that opens user vector files here, so it can be swapped for
    mlcore.vectors.read_polygons once that exists.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationInputError(f"{path}: no such file; check the path and try again.")
    try:
        frame = gpd.read_file(path, engine="pyogrio", fid_as_index=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise EvaluationInputError(
            f"{path.name} is not a readable vector file ({exc}); "
            "export the polygons as GeoPackage and try again."
        ) from None
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


def local_equal_area_crs(area: gpd.GeoDataFrame) -> CRS:
    """A Lambert azimuthal equal-area CRS centred on the evaluation area."""
    centre = gpd.GeoSeries([area.union_all().centroid], crs=area.crs).to_crs(4326).iloc[0]
    return CRS.from_proj4(
        f"+proj=laea +lat_0={centre.y:.6f} +lon_0={centre.x:.6f} "
        "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def evaluation_area(area: gpd.GeoDataFrame, crs: CRS, name: str) -> shapely.Geometry:
    """The union of the area's polygons in the working CRS, refused if empty."""
    geoms, _ = _repaired(np.asarray(area.to_crs(crs).geometry.values))
    union = shapely.union_all(geoms) if len(geoms) else shapely.Polygon()
    if union.is_empty or union.area <= 0:
        raise EvaluationInputError(
            f"{name} has no area to evaluate over (no polygon features, or only "
            "empty ones); draw or export the evaluation area and try again."
        )
    return union


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
    geoms = geoms.copy()
    geoms[crossing] = clipped
    keep = inside | crossing
    keep[keep] = shapely.area(geoms[keep]) > 0
    geoms, ids = geoms[keep], ids[keep]
    return Polygons(
        name=name,
        ids=ids,
        geoms=geoms,
        areas_m2=shapely.area(geoms),
        n_clipped=int(np.count_nonzero(crossing & keep)),
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
