"""A probability GeoTIFF as the prediction: one windowed pass for pixels, PR curve and polygons.

Each window is read once and gives its confusion counts at the threshold, its
share of the probability histogram, and the polygons of its thresholded
pixels. Polygons cut by window edges are glued back together afterwards, in
pixel coordinates where the shared edges are exact integers, so the object
metrics see whole landslides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from rasterio.io import DatasetReader
from rasterio.windows import Window
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from mlcore.errors import MlcoreError
from mlcore.evaluation.metrics import ConfusionCounts, ProbabilityHistogram
from mlcore.evaluation.pixels import BLOCK, EvalGrid, PolygonBurner
from mlcore.raster.geotiff import open_geotiff, pixels_to_map


class ProbabilityMapError(MlcoreError):
    """A probability raster that cannot be evaluated."""


@dataclass
class ProbabilityScan:
    """What one pass over the probability map found, inside the evaluation area."""

    counts: ConfusionCounts
    histogram: ProbabilityHistogram
    polygons: np.ndarray
    grid: EvalGrid
    notes: list[str] = field(default_factory=list)


def open_probability_map(path: str | Path) -> DatasetReader:
    """Open a one-band probability GeoTIFF (see `ProbabilityDecoding` for the encodings)."""
    path = Path(path)
    if not path.is_file():
        raise ProbabilityMapError(f"{path}: no such file; check the path and try again.")
    ds = open_geotiff(path)
    if ds.crs is None:
        ds.close()
        raise ProbabilityMapError(
            f"{path.name} has no coordinate reference system; "
            "write the probability map with its CRS and try again."
        )
    try:
        ProbabilityDecoding.of(ds)
    except ProbabilityMapError:
        ds.close()
        raise
    return ds


@dataclass(frozen=True)
class ProbabilityDecoding:
    """How stored values become probabilities: p = value / steps + offset.

    Floats are probabilities as stored. Integers follow the band's declared
    GDAL scale and offset (Scarp's own maps are uint8, p x 254, with 255 as
    nodata); dividing by the whole number of steps rather than multiplying by
    a rounded 1/254 keeps 127 exactly at 0.5. A uint8 band without a scale
    is read as value / 255, and the report says so.
    """

    steps: float
    offset: float
    note: str | None = None

    @classmethod
    def of(cls, ds: DatasetReader) -> ProbabilityDecoding:
        name, dtype = Path(ds.name).name, np.dtype(ds.dtypes[0])
        scale, offset = float(ds.scales[0]), float(ds.offsets[0])
        if dtype.kind == "f":
            return cls(1.0 / scale, offset)
        if scale != 1.0 or offset != 0.0:
            steps = 1.0 / scale
            return cls(float(round(steps)) if abs(steps - round(steps)) < 1e-6 else steps, offset)
        if dtype == np.uint8:
            return cls(255.0, 0.0, f"{name} declares no scale; its bytes were read as value / 255.")
        raise ProbabilityMapError(
            f"{name} stores {dtype} values with no scale; store probabilities as float "
            "(0 to 1), or as integers with the band's scale set (for example 1/254)."
        )

    def decode(self, data: np.ndarray) -> np.ndarray:
        prob = data.astype(np.float64) if data.dtype.kind != "f" else data
        if self.steps != 1.0:
            prob = prob / self.steps
        return prob + self.offset if self.offset else prob


def footprint(ds: DatasetReader) -> shapely.Geometry:
    """The raster's extent in its own CRS, densified so it bends correctly when reprojected."""
    left, bottom, right, top = ds.bounds
    return shapely.segmentize(shapely.box(left, bottom, right, top), max(ds.res) * 64)


def scan_probability_map(
    ds: DatasetReader,
    ref: np.ndarray,
    area: shapely.Geometry,
    *,
    threshold: float = 0.5,
    block: int = BLOCK,
) -> ProbabilityScan:
    """Count, histogram and vectorise the map inside `area`; `ref` and `area` in the map's CRS.

    Pixels that are nodata or outside the area are left out of every count;
    a pixel is predicted a landslide when p >= threshold.
    """
    grid = EvalGrid(ds.crs, ds.transform, ds.width, ds.height, "probability map")
    decoding = ProbabilityDecoding.of(ds)
    area_burner = PolygonBurner(np.array([area], dtype=object))
    ref_burner = PolygonBurner(ref)
    counts, histogram, pieces = ConfusionCounts(), ProbabilityHistogram(), []
    for window in grid.windows(block):
        transform = ds.transform @ Affine.translation(window.col_off, window.row_off)
        shape = (int(window.height), int(window.width))
        valid = area_burner.mask(transform, shape)
        if not valid.any():
            continue
        band = ds.read(1, window=window, masked=True)
        prob = decoding.decode(np.ma.getdata(band))
        valid &= ~np.ma.getmaskarray(band) & np.isfinite(prob)
        if not valid.any():
            continue
        _check_range(prob[valid], ds)
        ref_mask = ref_burner.mask(transform, shape)
        pred = (prob >= threshold) & valid
        counts += ConfusionCounts.from_masks(pred, ref_mask, valid)
        histogram.add(prob, ref_mask, valid)
        pieces.extend(_pixel_polygons(pred, window))
    polygons = _glue_pieces(np.array(pieces, dtype=object))
    notes = [decoding.note] if decoding.note else []
    return ProbabilityScan(counts, histogram, pixels_to_map(polygons, ds.transform), grid, notes)


def _check_range(values: np.ndarray, ds: DatasetReader) -> None:
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ProbabilityMapError(
            f"{Path(ds.name).name} holds values from {values.min():g} to {values.max():g}; "
            "probabilities must lie between 0 and 1 (or set the raster's nodata value)."
        )


def _pixel_polygons(mask: np.ndarray, window: Window) -> list[shapely.Geometry]:
    """Polygons of the mask's 4-connected regions, in whole-raster pixel coordinates."""
    if not mask.any():
        return []
    offset = Affine.translation(window.col_off, window.row_off)
    found = shapes(mask.view(np.uint8), mask=mask, connectivity=4, transform=offset)
    return [shapely.geometry.shape(geom) for geom, _ in found]


def _glue_pieces(pieces: np.ndarray) -> np.ndarray:
    """Union the pieces that share an edge across window seams into one polygon each."""
    if len(pieces) < 2:
        return pieces
    tree = shapely.STRtree(pieces)
    a, b = tree.query(pieces, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(pieces[a], pieces[b])) > 0
    a, b = a[shared], b[shared]
    if len(a) == 0:
        return pieces
    n = len(pieces)
    graph = coo_array((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    starts = np.flatnonzero(np.diff(label[order], prepend=-1))
    glued = []
    for group in np.split(order, starts[1:]):
        glued.append(pieces[group[0]] if len(group) == 1 else shapely.union_all(pieces[group]))
    return np.array(glued, dtype=object)
