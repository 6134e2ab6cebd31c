import math

import numpy as np
import pytest
import rasterio

from mlcore.raster.geotiff import RasterError
from mlcore.raster.terrain import write_hillshade, write_slope
from tests.factories.rasters import write_geotiff


def read(path):
    with rasterio.open(path) as ds:
        return ds.read(1), ds.nodata


def tilted_plane(rows: int, cols: int, east: float, north: float, resolution: float):
    """Heights rising by `east` and `north` metres per metre; row 0 is the north edge."""
    y, x = np.mgrid[0:rows, 0:cols] * resolution
    return (1000 + east * x - north * y).astype(np.float32)


def test_slope_of_a_tilted_plane_is_the_arctangent_of_its_gradient_inside(tmp_path):
    dem = write_geotiff(
        tmp_path / "plane.tif", tilted_plane(20, 30, 0.375, 0.5, 2.0), resolution=2.0
    )

    write_slope(dem, tmp_path / "slope.tif", block_size=8)

    slope, nodata = read(tmp_path / "slope.tif")
    assert nodata == -9999
    assert slope.dtype == np.float32
    assert (slope[1:-1, 1:-1] == np.float32(math.degrees(math.atan(0.625)))).all()
    assert (slope[0, 1:-1] < slope[1, 1:-1]).all()


def test_slope_uses_degrees_as_metres_at_the_latitude_of_a_geographic_dem(tmp_path):
    degree = 1 / 3600
    prime_vertical_radius_at_60n = 6_394_209
    metres_east = math.radians(degree) * prime_vertical_radius_at_60n * math.cos(math.radians(60))
    heights = np.tile(np.arange(10, dtype=np.float32) * metres_east, (10, 1))
    dem = write_geotiff(
        tmp_path / "geo.tif", heights, crs="EPSG:4326", origin=(10.0, 60.0), resolution=degree
    )

    write_slope(dem, tmp_path / "slope.tif")

    slope, _ = read(tmp_path / "slope.tif")
    assert slope[1:-1, 1:-1] == pytest.approx(45, abs=0.1)


def test_windowed_slope_has_no_seams_between_blocks(tmp_path):
    rng = np.random.default_rng(3)
    heights = rng.normal(0, 5, (40, 50)).cumsum(axis=0).cumsum(axis=1).astype(np.float32)
    heights[10:14, 20:26] = -9999
    heights[0, :5] = -9999
    dem = write_geotiff(tmp_path / "rough.tif", heights, nodata=-9999)

    write_slope(dem, tmp_path / "small_blocks.tif", block_size=7)
    write_slope(dem, tmp_path / "one_block.tif", block_size=1024)

    small, _ = read(tmp_path / "small_blocks.tif")
    whole, _ = read(tmp_path / "one_block.tif")
    assert np.array_equal(small, whole)
    assert ((small == -9999) == (heights == -9999)).all()


def test_hillshade_is_1_to_255_with_0_for_nodata_and_lights_slopes_facing_the_sun(tmp_path):
    ridge = 1000 - np.abs(np.arange(24) - 11.5)
    heights = np.tile(ridge, (12, 1)).astype(np.float32)
    heights[5, 5] = -9999
    dem = write_geotiff(tmp_path / "ridge.tif", heights, nodata=-9999)

    write_hillshade(dem, tmp_path / "shade.tif", azimuth=270, altitude=30, block_size=5)

    shade, nodata = read(tmp_path / "shade.tif")
    assert shade.dtype == np.uint8 and nodata == 0
    assert shade[5, 5] == 0
    assert (np.delete(shade.ravel(), 5 * 24 + 5) >= 1).all()
    # A 45 degree face turned to a sun 30 degrees up meets its light at 15 degrees.
    assert (shade[1:-1, 7:10] == round(1 + 254 * math.cos(math.radians(15)))).all()
    assert (shade[1:-1, 14:22] == 1).all()


def test_slope_of_a_multiband_raster_is_refused(tmp_path):
    dem = write_geotiff(tmp_path / "rgb.tif", np.ones((3, 5, 5), dtype=np.float32))

    with pytest.raises(RasterError, match=r"rgb\.tif has 3 bands"):
        write_slope(dem, tmp_path / "slope.tif")

    assert not (tmp_path / "slope.tif").exists()
