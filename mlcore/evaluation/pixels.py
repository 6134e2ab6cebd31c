"""Pixel agreement of two inventories, rasterised window by window on an evaluation grid.

Neither inventory nor the area is ever burnt into a whole-area array: each
window of at most `block` x `block` cells gets its own masks, from only the
polygons an STRtree says reach it, and adds its counts to the total. A cell
belongs to a polygon when its centre is inside (GDAL's default rule), the
same rule for prediction, reference and evaluation area.

Burning is a numpy scanline fill rather than rasterio.features.rasterize:
rasterio hands each polygon to GDAL through Python coordinate tuples, which
took most of a 10^5-polygon report; here all edges of all polygons cross the
row centres in a few array operations.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize
from rasterio.transform import array_bounds
from rasterio.windows import Window

from mlcore.evaluation.metrics import ConfusionCounts

BLOCK = 2048
DEFAULT_MAX_CELLS = 10**8


@dataclass(frozen=True)
class EvalGrid:
    """The raster grid pixel scores are counted on."""

    crs: CRS
    transform: Affine
    width: int
    height: int
    source: str

    @property
    def resolution(self) -> float:
        return float(abs(self.transform.a))

    def windows(self, block: int = BLOCK) -> Iterator[Window]:
        """Windows of at most block x block cells covering the grid, row by row."""
        for row in range(0, self.height, block):
            for col in range(0, self.width, block):
                yield Window(col, row, min(block, self.width - col), min(block, self.height - row))

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "crs": self.crs.to_string(),
            "resolution": self.resolution,
            "width": self.width,
            "height": self.height,
        }


def grid_over(area: shapely.Geometry, crs: CRS, resolution: float | None = None) -> EvalGrid:
    """A grid over the area's bounding box in the working CRS (metres).

    The origin snaps to whole multiples of the cell size. Without a
    resolution, 1 m cells, or coarser ones (two significant digits) when 1 m
    would put more than 10^8 cells in the bounding box: the report says which
    resolution it used.
    """
    xmin, ymin, xmax, ymax = area.bounds
    source = "resolution"
    if resolution is None:
        source = "default resolution"
        resolution = max(1.0, math.sqrt((xmax - xmin) * (ymax - ymin) / DEFAULT_MAX_CELLS))
        digits = 1 - math.floor(math.log10(resolution))
        resolution = math.ceil(resolution * 10**digits) / 10**digits
    if not resolution > 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    # Whole multiples of the cell size, so a grid in UTM lines up with UTM rasters.
    xmin = math.floor(xmin / resolution) * resolution
    ymax = math.ceil(ymax / resolution) * resolution
    width = max(1, math.ceil((xmax - xmin) / resolution))
    height = max(1, math.ceil((ymax - ymin) / resolution))
    transform = Affine(resolution, 0.0, xmin, 0.0, -resolution, ymax)
    return EvalGrid(crs, transform, width, height, source)


class PolygonBurner:
    """Burns a set of polygons into any window of a grid, touching only those that reach it."""

    def __init__(self, geoms: np.ndarray) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        self.tree = shapely.STRtree(self.geoms)

    def mask(self, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
        """Boolean mask of cells whose centre lies in one of the polygons."""
        xmin, ymin, xmax, ymax = array_bounds(shape[0], shape[1], transform)
        hits = self.tree.query(shapely.box(xmin, ymin, xmax, ymax))
        if len(hits) == 0:
            return np.zeros(shape, bool)
        if transform.b or transform.d:  # a rotated grid: let GDAL do it
            burnt = rasterize(self.geoms[hits], out_shape=shape, transform=transform, dtype="uint8")
            return burnt.view(bool)
        return burn_centres(self.geoms[hits], transform, shape)


def burn_centres(geoms: np.ndarray, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """Cells of a north-up grid whose centre lies inside any of the polygons.

    Each polygon is filled even-odd over its rings (so holes stay empty)
    along the horizontal line through each row's cell centres; an edge counts
    for a row when the centre line lies in [its lower y, its upper y), which
    makes every row cross each ring an even number of times.
    """
    height, width = shape
    parts = shapely.get_parts(geoms)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, ring_idx = shapely.get_coordinates(rings, return_index=True)
    owner = ring_of[ring_idx]
    col = (xy[:, 0] - transform.c) / transform.a
    row = (xy[:, 1] - transform.f) / transform.e
    same_ring = ring_idx[1:] == ring_idx[:-1]
    x0, x1 = col[:-1][same_ring], col[1:][same_ring]
    y0, y1 = row[:-1][same_ring], row[1:][same_ring]
    owner = owner[:-1][same_ring]

    first = np.clip(np.ceil(np.minimum(y0, y1) - 0.5), 0, height).astype(np.int64)
    stop = np.clip(np.ceil(np.maximum(y0, y1) - 0.5), 0, height).astype(np.int64)
    n_rows = stop - first
    edge = np.repeat(np.arange(len(n_rows)), n_rows)
    rows = first[edge] + np.arange(len(edge)) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    y0e, y1e, x0e = y0[edge], y1[edge], x0[edge]
    xs = x0e + (rows + 0.5 - y0e) * (x1[edge] - x0e) / (y1e - y0e)

    order = np.lexsort((xs, rows, owner[edge]))
    xs, rows = xs[order], rows[order]
    span_row = rows[0::2]
    start = np.clip(np.ceil(xs[0::2] - 0.5), 0, width).astype(np.int64)
    end = np.clip(np.ceil(xs[1::2] - 0.5), 0, width).astype(np.int64)
    if len(span_row) == 0:
        return np.zeros(shape, bool)
    diff = np.zeros((height, width + 1), np.int32)
    np.add.at(diff, (span_row, start), 1)
    np.add.at(diff, (span_row, end), -1)
    return np.cumsum(diff, axis=1, dtype=np.int32)[:, :width] > 0


def polygon_confusion(
    pred: np.ndarray,
    ref: np.ndarray,
    area: shapely.Geometry,
    grid: EvalGrid,
    *,
    block: int = BLOCK,
) -> ConfusionCounts:
    """Confusion counts of two polygon sets inside the area, all in the grid's CRS."""
    area_burner = PolygonBurner(np.array([area], dtype=object))
    pred_burner, ref_burner = PolygonBurner(pred), PolygonBurner(ref)
    total = ConfusionCounts()
    for window in grid.windows(block):
        transform = grid.transform @ Affine.translation(window.col_off, window.row_off)
        shape = (int(window.height), int(window.width))
        valid = area_burner.mask(transform, shape)
        if not valid.any():
            continue
        total += ConfusionCounts.from_masks(
            pred_burner.mask(transform, shape), ref_burner.mask(transform, shape), valid
        )
    return total
