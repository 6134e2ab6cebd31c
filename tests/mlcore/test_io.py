import os

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.windows import Window

from mlcore.raster.geotiff import (
    MissingCRS,
    NotAGeoTIFF,
    RasterError,
    RasterTooLarge,
    SceneReader,
    band_statistics,
    footprint_wgs84,
    inspect_geotiff,
    is_valid_cog,
    write_cog,
)
from tests.factories.rasters import write_geotiff


def ramp(bands: int, rows: int, cols: int, dtype=np.uint16) -> np.ndarray:
    return np.arange(bands * rows * cols).reshape(bands, rows, cols).astype(dtype)


def test_inspect_reads_size_crs_resolution_and_bounds_of_a_four_band_geotiff(tmp_path):
    path = write_geotiff(
        tmp_path / "scene.tif",
        ramp(4, 30, 50),
        resolution=0.5,
        nodata=0,
        band_names=["red", "green", "blue", "nir"],
    )

    info = inspect_geotiff(path, max_samples=10_000)

    assert (info.width, info.height, info.count, info.dtype) == (50, 30, 4, "uint16")
    assert info.epsg == 32647
    assert "UTM zone 47N" in info.crs_wkt
    assert info.resolution == (0.5, 0.5)
    assert info.bounds == (500_000.0, 3_449_985.0, 500_025.0, 3_450_000.0)
    assert info.transform == (0.5, 0.0, 500_000.0, 0.0, -0.5, 3_450_000.0)
    assert info.nodata == 0
    assert info.band_descriptions == ("red", "green", "blue", "nir")
    assert info.samples == 6000


def test_text_file_named_tif_is_refused_as_not_a_geotiff(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("landslide notes, not an image\n")

    with pytest.raises(NotAGeoTIFF, match=r"notes\.tif is not a GeoTIFF"):
        inspect_geotiff(path, max_samples=10**6)


def test_vrt_named_tif_is_refused_without_gdal_following_it(tmp_path):
    path = tmp_path / "innocent.tif"
    path.write_text(
        '<VRTDataset rasterXSize="10" rasterYSize="10"><VRTRasterBand dataType="Byte" band="1">'
        "<SimpleSource><SourceFilename>/etc/passwd</SourceFilename></SimpleSource>"
        "</VRTRasterBand></VRTDataset>"
    )

    with pytest.raises(NotAGeoTIFF, match=r"innocent\.tif is not a GeoTIFF"):
        inspect_geotiff(path, max_samples=10**6)


def test_geotiff_without_crs_raises_missing_crs_saying_how_to_assign_one(tmp_path):
    path = write_geotiff(tmp_path / "nocrs.tif", ramp(1, 10, 10), crs=None)

    with pytest.raises(MissingCRS) as caught:
        inspect_geotiff(path, max_samples=10**6)

    assert "nocrs.tif" in str(caught.value)
    assert "gdal_edit.py -a_srs" in str(caught.value)


def test_rotated_geotiff_is_refused_with_advice_to_warp_it(tmp_path):
    rotated = Affine.rotation(10) * Affine(1, 0, 500_000, 0, -1, 3_450_000)
    path = write_geotiff(tmp_path / "rotated.tif", ramp(1, 10, 10), transform=rotated)

    with pytest.raises(RasterError, match=r"rotated\.tif has a rotated.*gdalwarp"):
        inspect_geotiff(path, max_samples=10**6)


def test_raster_over_the_sample_budget_raises_raster_too_large_with_both_numbers(tmp_path):
    path = write_geotiff(tmp_path / "big.tif", ramp(4, 30, 50))

    with pytest.raises(RasterTooLarge, match=r"big\.tif has 6,000 samples.*limit of 5,999"):
        inspect_geotiff(path, max_samples=5999)


def test_write_cog_gives_a_valid_cog_with_overviews_and_the_same_pixels(tmp_path):
    data = np.random.default_rng(1).integers(0, 4000, (4, 2000, 2000), dtype=np.uint16)
    src = write_geotiff(tmp_path / "scene.tif", data, band_names=["b", "g", "r", "nir"])
    dst = tmp_path / "scene_cog.tif"

    write_cog(src, dst)

    assert is_valid_cog(dst)
    assert not is_valid_cog(src)
    with rasterio.open(src) as original, rasterio.open(dst) as cog:
        assert cog.overviews(1) == [2, 4]
        assert cog.block_shapes[0] == (512, 512)
        assert cog.compression.name == "deflate"
        assert cog.descriptions == ("b", "g", "r", "nir")
        assert (cog.crs, cog.transform) == (original.crs, original.transform)
        assert (cog.read() == data).all()
    assert sorted(os.listdir(tmp_path)) == ["scene.tif", "scene_cog.tif"]


def test_write_cog_declares_the_given_nodata(tmp_path):
    src = write_geotiff(tmp_path / "dem.tif", np.full((1, 50, 50), 7, dtype=np.int16))
    dst = tmp_path / "dem_cog.tif"

    write_cog(src, dst, nodata=-32768)

    with rasterio.open(dst) as cog:
        assert cog.nodata == -32768


def test_failing_write_cog_of_a_truncated_geotiff_leaves_no_file(tmp_path):
    data = np.random.default_rng(2).integers(0, 60000, (1, 1000, 1000), dtype=np.uint16)
    src = write_geotiff(tmp_path / "cut.tif", data, tiled=True)
    with src.open("r+b") as fh:
        fh.truncate(src.stat().st_size // 2)
    dst = tmp_path / "cut_cog.tif"

    with pytest.raises(RasterError, match=r"cut\.tif could not be converted.*truncated"):
        write_cog(src, dst)

    assert os.listdir(tmp_path) == ["cut.tif"]


def test_write_cog_refuses_a_nodata_value_outside_the_pixel_type(tmp_path):
    src = write_geotiff(tmp_path / "rgb.tif", np.ones((3, 20, 20), dtype=np.uint8))

    with pytest.raises(RasterError, match=r"rgb\.tif: nodata -9999 cannot occur in its uint8"):
        write_cog(src, tmp_path / "rgb_cog.tif", nodata=-9999)

    assert os.listdir(tmp_path) == ["rgb.tif"]


def test_is_valid_cog_says_no_to_a_vrt_without_opening_its_source(tmp_path):
    path = tmp_path / "evil.tif"
    path.write_text("<VRTDataset><SourceFilename>/etc/passwd</SourceFilename></VRTDataset>")

    assert not is_valid_cog(path)


def test_band_statistics_match_numpy_and_ignore_nodata(tmp_path):
    rng = np.random.default_rng(7)
    data = rng.normal(100, 20, (2, 64, 80)).astype(np.float32)
    data[:, :8, :] = -9999
    path = write_geotiff(tmp_path / "stats.tif", data, nodata=-9999)

    stats = band_statistics(path)

    for band, got in zip(data, stats, strict=True):
        valid = band[band != -9999].astype(np.float64)
        p2, p98 = np.percentile(valid, [2, 98])
        assert got.p2 == pytest.approx(p2, abs=1e-3)
        assert got.p98 == pytest.approx(p98, abs=1e-3)
        assert got.mean == pytest.approx(valid.mean(), abs=1e-3)
        assert got.std == pytest.approx(valid.std(), abs=1e-3)
        assert (got.min, got.max) == pytest.approx((valid.min(), valid.max()))
        assert got.valid_fraction == pytest.approx(56 / 64)


def test_band_statistics_of_a_decimated_read_stay_close_to_the_full_ones(tmp_path):
    rng = np.random.default_rng(8)
    data = rng.uniform(0, 1000, (1, 600, 400)).astype(np.float32)
    path = write_geotiff(tmp_path / "large.tif", data)

    (got,) = band_statistics(path, max_size=150)

    assert got.p2 == pytest.approx(np.percentile(data, 2), rel=0.1)
    assert got.p98 == pytest.approx(np.percentile(data, 98), rel=0.02)
    assert got.mean == pytest.approx(data.mean(), rel=0.02)


def test_band_statistics_of_an_all_nodata_band_are_zeros_with_no_valid_fraction(tmp_path):
    data = np.zeros((2, 10, 10), dtype=np.uint8)
    data[0] = 5
    path = write_geotiff(tmp_path / "empty_band.tif", data, nodata=0)

    filled, empty = band_statistics(path)

    assert filled.mean == 5 and filled.valid_fraction == 1
    assert (empty.p2, empty.p98, empty.mean, empty.std, empty.min, empty.max) == (0,) * 6
    assert empty.valid_fraction == 0


def test_footprint_of_a_utm_raster_lies_where_it_is_in_lon_lat(tmp_path):
    path = write_geotiff(tmp_path / "baige.tif", ramp(1, 100, 200), resolution=10.0)
    to_lonlat = Transformer.from_crs(32647, 4326, always_xy=True)

    footprint = footprint_wgs84(path)

    assert footprint.is_valid
    corners = [
        (500_000, 3_450_000),
        (502_000, 3_450_000),
        (502_000, 3_449_000),
        (500_000, 3_449_000),
    ]
    for x, y in corners:
        lon, lat = to_lonlat.transform(x, y)
        assert footprint.exterior.distance(shapely.Point(lon, lat)) < 1e-9
    minx, miny, maxx, maxy = footprint.bounds
    assert 98.99 < minx < maxx < 99.03 and 31.17 < miny < maxy < 31.19


def test_block_windows_cover_every_pixel_exactly_once_without_overlap(tmp_path):
    path = write_geotiff(tmp_path / "grid.tif", ramp(1, 23, 37))
    hits = np.zeros((23, 37), dtype=int)

    with SceneReader(path) as reader:
        for window in reader.block_windows(8):
            rows, cols = window.toslices()
            hits[rows, cols] += 1

    assert (hits == 1).all()


def test_block_windows_with_overlap_share_that_many_pixels_with_each_neighbour(tmp_path):
    path = write_geotiff(tmp_path / "grid.tif", ramp(1, 10, 30))

    with SceneReader(path) as reader:
        windows = list(reader.block_windows(12, overlap=4))

    assert [(w.col_off, w.width) for w in windows] == [(0, 12), (8, 12), (16, 12), (24, 6)]
    assert {(w.row_off, w.height) for w in windows} == {(0, 10)}


def test_boundless_read_fills_outside_the_raster_and_the_mask_says_so(tmp_path):
    data = ramp(2, 10, 10)
    data[:, 0, 0] = 0
    path = write_geotiff(tmp_path / "edge.tif", data, nodata=0)
    window = Window(-2, 7, 5, 5)

    with SceneReader(path) as reader:
        pixels = reader.read(window, bands=[2], fill=9)
        mask = reader.read_mask(window)
        inside = reader.read(Window(0, 0, 3, 3), boundless=False)

    assert pixels.shape == (1, 5, 5)
    assert (pixels[0, :3, 2:] == data[1, 7:10, 0:3]).all()
    assert (pixels[0, 3:, :] == 9).all() and (pixels[0, :, :2] == 9).all()
    assert mask[:3, 2:].all() and not mask[3:, :].any() and not mask[:, :2].any()
    assert (inside == data[:, :3, :3]).all()


def test_read_of_a_band_the_scene_lacks_names_the_bands_it_has(tmp_path):
    path = write_geotiff(tmp_path / "rgb.tif", ramp(3, 4, 4))

    with SceneReader(path) as reader, pytest.raises(RasterError, match="has bands 1 to 3"):
        reader.read(Window(0, 0, 2, 2), bands=[4])
