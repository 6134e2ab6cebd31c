"""Pixel agreement of two inventories, rasterised window by window on an evaluation grid.

Neither inventory nor the area is ever burnt into a whole-area array: each
window of at most `block` x `block` cells gets its own masks, from only the
polygons an STRtree says reach it, and adds its counts to the total. A cell
belongs to a polygon when its centre is inside (rasterio's default rule), the
same rule for prediction, reference and evaluation area.
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
from rasterio.transform import array_bounds, from_origin
from rasterio.windows import Window

from mlcore.metrics import ConfusionCounts

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

    Without a resolution, 1 m cells, or coarser ones (two significant digits)
    when 1 m would put more than 10^8 cells in the bounding box: the report
    says which resolution it used.
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
    width = max(1, math.ceil((xmax - xmin) / resolution))
    height = max(1, math.ceil((ymax - ymin) / resolution))
    return EvalGrid(crs, from_origin(xmin, ymax, resolution, resolution), width, height, source)


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
        burnt = rasterize(
            self.geoms[hits], out_shape=shape, transform=transform, fill=0, dtype="uint8"
        )
        return burnt.view(bool)


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
        transform = grid.transform * Affine.translation(window.col_off, window.row_off)
        shape = (int(window.height), int(window.width))
        valid = area_burner.mask(transform, shape)
        if not valid.any():
            continue
        total += ConfusionCounts.from_masks(
            pred_burner.mask(transform, shape), ref_burner.mask(transform, shape), valid
        )
    return total
