"""From a probability map to landslide polygons, block by block, whole across block seams.

Each block is thresholded, cleaned (opening, then closing, with a halo wide
enough that the result in the block's core is what the whole map would
give), labelled in 4-connectivity and turned into pixel-edge polygons. A
landslide cut by a block border is glued back with a union-find over the
labels facing each other across the seam, and its pieces are unioned in
pixel coordinates, where shared edges are exact integers. Memory grows with
the number of landslides, not with the map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.features import shapes
from rasterio.windows import Window
from scipy import ndimage

from mlcore.atomic import atomic_path
from mlcore.errors import MlcoreError
from mlcore.predict.probability_raster import NODATA, SCALE, threshold_value
from mlcore.raster.geotiff import SceneReader, pixels_to_map
from mlcore.vector.areas import areas_m2

COLUMNS = ("area_m2", "mean_prob", "max_prob")
_CROSS = ndimage.generate_binary_structure(2, 1)


@dataclass
class _Components:
    """Per component: union-find parent, pixel count, probability sum and max; its pieces."""

    parent: list[int] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    peak: list[float] = field(default_factory=list)
    pieces: list[tuple[int, shapely.Geometry]] = field(default_factory=list)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: np.ndarray, b: np.ndarray) -> None:
        """Join components facing each other across a seam (labels -1 are background)."""
        both = (a >= 0) & (b >= 0)
        for i, j in np.unique(np.column_stack([a[both], b[both]]), axis=0):
            ri, rj = self.find(int(i)), self.find(int(j))
            if ri != rj:
                self.parent[max(ri, rj)] = min(ri, rj)


def vectorize(
    prob_path: str | Path,
    *,
    threshold: float = 0.5,
    min_area_m2: float = 0.0,
    opening: int = 1,
    closing: int = 1,
    max_hole_m2: float | None = None,
    block_size: int = 2048,
) -> gpd.GeoDataFrame:
    """Polygons where probability >= threshold, in the map's CRS, with area and confidence.

    `opening` and `closing` are radii in pixels (a diamond, 4-connected):
    opening drops specks and hair-thin bridges, closing fills pinholes and
    nicks. Holes smaller than `max_hole_m2` (default: `min_area_m2`, since a
    hole too small to be a landslide is too small to be a gap in one) are
    filled, then polygons under `min_area_m2` are dropped. Nodata pixels are
    never part of a polygon. `mean_prob` and `max_prob` are over the
    polygon's pixels (filled holes excepted).
    """
    level = threshold_value(threshold)
    if min(opening, closing, min_area_m2) < 0 or block_size < 1:
        raise MlcoreError(
            "Opening, closing and the minimum area cannot be negative, and the block size "
            f"must be at least 1; got {opening}, {closing}, {min_area_m2} and {block_size}."
        )
    with SceneReader(prob_path) as reader:
        info = reader.info
        if info.count != 1 or info.dtype != "uint8":
            raise MlcoreError(
                f"{Path(prob_path).name} is not a probability map written by predict "
                "(one uint8 band); vectorise the map that prediction wrote."
            )
        found = _scan(reader, level, opening, closing, block_size)
    crs = CRS.from_wkt(info.crs_wkt)
    return _polygons(found, Affine(*info.transform), crs, min_area_m2, max_hole_m2)


def _scan(reader: SceneReader, level: int, opening: int, closing: int, block: int) -> _Components:
    found = _Components()
    halo = 2 * (opening + closing)
    above: dict[int, np.ndarray] = {}
    left: np.ndarray | None = None
    for window in reader.block_windows(block):
        col, row = int(window.col_off), int(window.row_off)
        h, w = int(window.height), int(window.width)
        padded = Window(col - halo, row - halo, w + 2 * halo, h + 2 * halo)
        data = reader.read(padded, fill=NODATA)[0]
        valid = data != NODATA
        mask = (data >= level) & valid
        if opening:
            mask = ndimage.binary_opening(mask, _CROSS, iterations=opening)
        if closing:
            mask = ndimage.binary_closing(mask, _CROSS, iterations=closing)
        core = (slice(halo, halo + h), slice(halo, halo + w))
        labels = _label_block(found, mask[core] & valid[core], data[core], col, row)
        if col > 0 and left is not None:
            found.union(left, labels[:, 0])
        if row > 0:
            found.union(above[col], labels[0, :])
        left, above[col] = labels[:, -1], labels[-1, :]
    return found


def _label_block(
    found: _Components, mask: np.ndarray, data: np.ndarray, col: int, row: int
) -> np.ndarray:
    """Label the block's components, record their stats and pieces; labels as global ids."""
    local, n = ndimage.label(mask, _CROSS)
    first = len(found.parent)
    if n:
        index = np.arange(1, n + 1)
        prob = data.astype(np.float64) / SCALE
        found.parent += range(first, first + n)
        found.count += np.bincount(local.ravel(), minlength=n + 1)[1:].tolist()
        found.total += np.bincount(local.ravel(), prob.ravel(), minlength=n + 1)[1:].tolist()
        found.peak += np.atleast_1d(ndimage.maximum(prob, local, index)).tolist()
        offset = Affine.translation(col, row)
        for geom, value in shapes(local, mask=mask, connectivity=4, transform=offset):
            found.pieces.append((first + int(value) - 1, shapely.geometry.shape(geom)))
    return np.where(local > 0, local + (first - 1), -1)


def _polygons(
    found: _Components, transform: Affine, crs: CRS, min_area: float, max_hole: float | None
) -> gpd.GeoDataFrame:
    root_of = np.array([found.find(g) for g in range(len(found.parent))], dtype=np.int64)
    count = np.bincount(root_of, weights=found.count, minlength=len(root_of))
    total = np.bincount(root_of, weights=found.total, minlength=len(root_of))
    peak = np.zeros(len(root_of))
    np.maximum.at(peak, root_of, found.peak)
    groups: dict[int, list[shapely.Geometry]] = {}
    for gid, piece in found.pieces:
        groups.setdefault(int(root_of[gid]), []).append(piece)
    roots = list(groups)
    geoms = np.array([shapely.union_all(groups[r]) for r in roots], dtype=object)
    geoms = pixels_to_map(geoms, transform)
    geoms = _fill_holes(geoms, crs, min_area if max_hole is None else max_hole)
    frame = gpd.GeoDataFrame(
        {
            "area_m2": areas_m2(geoms, crs),
            "mean_prob": total[roots] / count[roots],
            "max_prob": peak[roots],
        },
        geometry=gpd.GeoSeries(geoms, crs=crs),
    )
    return frame[frame["area_m2"] >= min_area].reset_index(drop=True)


def _fill_holes(geoms: np.ndarray, crs: CRS, max_hole: float) -> np.ndarray:
    if max_hole <= 0:
        return geoms
    out = []
    for geom in geoms:
        holes = [shapely.Polygon(ring) for ring in geom.interiors]
        if holes:
            keep = areas_m2(np.array(holes, dtype=object), crs) >= max_hole
            kept = [h.exterior for h, k in zip(holes, keep, strict=True) if k]
            geom = shapely.Polygon(geom.exterior, kept)
        out.append(geom)
    return np.array(out, dtype=object)


def write_polygons_gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str = "landslides") -> Path:
    """Write the polygons as a GeoPackage in their CRS, all or nothing (an empty layer is fine)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(frame, tmp, layer=layer, driver="GPKG", geometry_type="Polygon")
    return path
