"""Burning polygons on the evaluation grid, window by window."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize

from mlcore.evaluation.pixels import burn_centres, grid_over, polygon_confusion


def awkward_polygons(seed: int) -> np.ndarray:
    """Concave polygons with holes, a multipolygon, overlaps, at non-grid coordinates."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 300, (400, 2))
    blobs = shapely.buffer(shapely.points(centres), rng.uniform(2, 25, 400), quad_segs=3)
    bites = shapely.buffer(shapely.points(centres + rng.normal(0, 4, (400, 2))), 3.0)
    shapes = shapely.difference(blobs, bites)
    multi = shapely.MultiPolygon([shapely.box(10.3, 10.1, 50.7, 49.2), shapely.box(60, 60, 90, 95)])
    shapes = np.append(shapes, multi)
    return shapes[~shapely.is_empty(shapes)]


@pytest.mark.parametrize(
    ("resolution", "origin"), [(1.0, (0.0, 300.0)), (2.7, (-13.3, 311.1)), (0.37, (100.1, 250.2))]
)
def test_burning_equals_gdal_cell_centre_rule(resolution, origin):
    polygons = awkward_polygons(1)
    transform = Affine(resolution, 0, origin[0], 0, -resolution, origin[1])
    shape = (int(250 / resolution), int(260 / resolution))

    ours = burn_centres(polygons, transform, shape)

    gdal = rasterize(polygons, out_shape=shape, transform=transform, dtype="uint8")
    assert np.array_equal(ours, gdal.astype(bool))


def test_windowed_counts_equal_one_window():
    polygons = awkward_polygons(2)
    pred, ref = polygons[::2], polygons[1::2]
    area = shapely.box(5, 5, 290, 280).difference(shapely.box(100, 100, 150, 150))
    grid = grid_over(area, CRS("EPSG:32647"), 0.5)

    assert polygon_confusion(pred, ref, area, grid, block=97) == polygon_confusion(
        pred, ref, area, grid, block=4096
    )


def test_default_resolution_keeps_big_areas_under_a_hundred_million_cells():
    crs = CRS("EPSG:32647")

    small = grid_over(shapely.box(0, 0, 5000, 3000), crs)
    big = grid_over(shapely.box(0, 0, 100_000, 80_000), crs)

    assert small.resolution == 1.0 and (small.width, small.height) == (5000, 3000)
    assert big.resolution > 1.0 and big.width * big.height <= 10**8
