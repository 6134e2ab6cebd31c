"""Terrain as the network sees it: slope as gdaldem computes it, relief, same in any window."""

import subprocess

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from scipy.ndimage import gaussian_filter

from mlcore.data import SceneSpec, StackedScene, compute_input_spec
from mlcore.data.bands import input_channels, plan_inputs
from mlcore.data.dataset import read_prepared
from mlcore.data.model_input import read_region
from mlcore.raster.terrain import relief
from tests.factories.rasters import write_geotiff


def rough_dem(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """Hills and a valley: smooth noise of tens of metres on an inclined plane."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    noise = gaussian_filter(rng.normal(0, 40, (rows, cols)), 6) * 8
    return (2900 + 0.3 * x - 0.2 * y + noise).astype(np.float32)


def test_slope_band_equals_gdaldem_slope_on_a_projected_dem(tmp_path):
    dem = write_geotiff(tmp_path / "dem.tif", rough_dem(90, 110), resolution=0.5)
    subprocess.run(
        ["gdaldem", "slope", "-q", "-compute_edges", str(dem), str(tmp_path / "gdal.tif")],
        check=True,
    )
    with rasterio.open(tmp_path / "gdal.tif") as ds:
        expected = ds.read(1)

    with StackedScene(SceneSpec([dem])) as scene:
        spec = compute_input_spec([scene], ["slope"], dropped=["dem"])
        x, valid = read_prepared(scene, spec, Window(0, 0, scene.width, scene.height))

    assert spec.channels == ["slope"] and valid.all()
    slope = x[0] * 90  # the slope channel's range is 0..90 degrees
    inner = (slice(1, -1), slice(1, -1))  # gdaldem's edges extrapolate, ours repeat the centre
    assert np.abs(slope[inner] - expected[inner]).max() < 0.05  # degrees; gdaldem is float32
    assert slope.max() > 20  # the surface is steep enough for the comparison to mean something


def test_relief_is_height_above_the_surrounding_mean_and_zero_on_a_plane():
    y, x = np.mgrid[0:61, 0:61].astype(np.float64)
    plane = 100 + 0.5 * x + 0.25 * y
    valid = np.ones(plane.shape, bool)
    assert np.abs(relief(plane, valid, 5)[10:-10, 10:-10]).max() < 1e-9

    bump = plane.copy()
    bump[30, 30] += 121.0  # one pixel 121 m up: the 11 x 11 mean rises by 1 m
    out = relief(bump, valid, 5)
    assert out[30, 30] == pytest.approx(120.0)
    assert out[30, 33] == pytest.approx(-1.0)  # its neighbours now lie 1 m below the mean
    assert out[30, 45] == pytest.approx(0.0, abs=1e-9)  # beyond the radius: untouched


def test_relief_ignores_nodata_instead_of_sinking_towards_it():
    z = np.full((41, 41), 500.0)
    valid = np.ones(z.shape, bool)
    z[:, :20], valid[:, :20] = -9999.0, False
    out = relief(z, valid, 8)
    assert np.abs(out[valid]).max() < 1e-9 and (out[~valid] == 0).all()


def test_derived_bands_of_a_window_equal_those_of_the_whole_scene(tmp_path):
    """Chips in training, blocks in prediction: a window reads its halo and agrees exactly."""
    rows, cols = 300, 280
    rng = np.random.default_rng(1)
    image = write_geotiff(
        tmp_path / "image.tif",
        rng.integers(1, 255, (3, rows, cols)).astype(np.uint8),
        nodata=0,
        resolution=0.5,
        band_names=["red", "green", "blue"],
    )
    dem = write_geotiff(tmp_path / "dsm.tif", rough_dem(rows, cols, 2), resolution=0.5)
    for scale in (1, 2):
        with StackedScene(SceneSpec([image, dem]), scale) as scene:
            derived, dropped = plan_inputs(scene.band_names, None, keep_elevation=False)
            spec = compute_input_spec([scene], derived, dropped=dropped)
            whole = read_region(scene, spec, Window(0, 0, scene.width, scene.height))
            for col, row in ((0, 0), (37, 51), (scene.width - 64, scene.height - 64)):
                x, valid = read_prepared(scene, spec, Window(col, row, 64, 64))
                expected = whole.x[:, row : row + 64, col : col + 64]
                assert np.abs(x - expected).max() < 1e-5, (scale, col, row)
        assert spec.channels == ["red", "green", "blue", "slope", "relief"]
        assert spec.halo(scene.res) == int(np.ceil(40 / (0.5 * scale)))


def test_absolute_elevation_is_not_an_input_by_default_but_can_be_kept():
    assert input_channels(["red", "green", "blue", "dsm"]) == [
        "red",
        "green",
        "blue",
        "slope",
        "relief",
    ]
    assert input_channels(["red", "green", "blue", "dsm"], keep_elevation=True)[3] == "dsm"
    assert input_channels(["red", "green", "blue"]) == ["red", "green", "blue"]


def test_a_scaled_scene_averages_its_pixels_and_is_invalid_where_any_is_nodata(tmp_path):
    data = np.arange(1, 8 * 6 + 1, dtype=np.float32).reshape(1, 6, 8)
    data[0, 0, 0] = -9999
    path = write_geotiff(tmp_path / "dem.tif", data, nodata=-9999, resolution=0.5)
    with StackedScene(SceneSpec([path]), 2) as scene:
        assert (scene.width, scene.height, scene.res) == (4, 3, (1.0, 1.0))
        values, valid = scene.read(Window(0, 0, 4, 3))
    assert not valid[0, 0] and valid.sum() == 11
    assert values[0, 1, 1] == pytest.approx(data[0, 2:4, 2:4].mean())
