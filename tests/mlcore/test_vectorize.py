import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from rasterio.transform import from_origin

from mlcore.errors import MlcoreError
from mlcore.predict.probability_raster import NODATA
from mlcore.predict.vectorize import vectorize, write_polygons_gpkg
from tests.factories.rasters import write_geotiff


def prob_map(tmp_path, data: np.ndarray, **kwargs):
    """A probability map as prediction writes it: uint8 p x 254, 255 nodata."""
    return write_geotiff(tmp_path / "prob.tif", data.astype(np.uint8), nodata=NODATA, **kwargs)


def test_a_landslide_lying_across_block_borders_is_one_polygon(tmp_path):
    data = np.zeros((200, 200), np.uint8)
    data[40:90, 50:150] = 230  # crosses the column border at 64 and 128, the row border at 64
    # A U whose arms meet only in the block below them: one landslide, three blocks.
    data[100:180, 20:30] = 200
    data[100:180, 50:60] = 200
    data[170:180, 20:60] = 200
    path = prob_map(tmp_path, data)

    small_blocks = vectorize(path, block_size=64, opening=0, closing=0)
    one_block = vectorize(path, block_size=4096, opening=0, closing=0)

    assert len(small_blocks) == 2
    assert small_blocks.geom_type.eq("Polygon").all()
    assert sorted(small_blocks["area_m2"]) == [80 * 10 * 2 + 10 * 20, 50 * 100]
    for a, b in zip(
        small_blocks.sort_values("area_m2").geometry,
        one_block.sort_values("area_m2").geometry,
        strict=True,
    ):
        assert a.equals(b)


def test_cleanup_gives_the_same_polygons_whatever_the_block_size(tmp_path):
    rng = np.random.default_rng(3)
    data = (rng.random((150, 170)) < 0.45).astype(np.uint8) * 220
    path = prob_map(tmp_path, data)

    blocks = vectorize(path, block_size=64, opening=1, closing=2)
    whole = vectorize(path, block_size=1024, opening=1, closing=2)

    assert len(blocks) == len(whole) > 1
    assert (
        shapely.union_all(blocks.geometry)
        .symmetric_difference(shapely.union_all(whole.geometry))
        .is_empty
    )
    assert np.allclose(np.sort(blocks["mean_prob"]), np.sort(whole["mean_prob"]))


def test_polygons_carry_area_in_m2_and_mean_and_max_probability(tmp_path):
    data = np.zeros((40, 40), np.uint8)
    data[10:20, 10:30] = 127
    data[10:20, 20:30] = 254
    path = prob_map(tmp_path, data, resolution=2.0)

    frame = vectorize(path, threshold=0.5, opening=0, closing=0)

    assert len(frame) == 1
    assert frame["area_m2"][0] == pytest.approx(10 * 20 * 4.0)
    assert frame["mean_prob"][0] == pytest.approx((127 + 254) / 2 / 254)
    assert frame["max_prob"][0] == pytest.approx(1.0)
    assert frame.crs.to_epsg() == 32647
    assert frame.geometry[0].bounds == (500_020.0, 3_449_960.0, 500_060.0, 3_449_980.0)


def test_threshold_compares_stored_probabilities(tmp_path):
    data = np.zeros((20, 20), np.uint8)
    data[2:6, 2:6] = 127  # 0.5 exactly
    data[10:14, 10:14] = 126  # just below
    path = prob_map(tmp_path, data)

    frame = vectorize(path, threshold=0.5, opening=0, closing=0)

    assert len(frame) == 1
    assert frame.geometry[0].bounds[0] == 500_002.0


def test_area_is_geodesic_in_a_geographic_crs(tmp_path):
    data = np.zeros((20, 20), np.uint8)
    data[5:15, 5:15] = 254
    transform = from_origin(98.0, 31.0, 0.0001, 0.0001)
    path = prob_map(tmp_path, data, crs="EPSG:4326", transform=transform)

    frame = vectorize(path, opening=0, closing=0)

    expected = abs(Geod(ellps="WGS84").geometry_area_perimeter(frame.geometry[0])[0])
    assert frame["area_m2"][0] == pytest.approx(expected, rel=1e-5)
    assert 9_000 < expected < 12_000  # ~10 m pixels at 31 N


def test_small_specks_and_holes_are_cleaned_and_small_polygons_dropped(tmp_path):
    data = np.zeros((60, 60), np.uint8)
    data[10:40, 10:40] = 240
    data[20, 20] = 0  # a pinhole
    data[25:29, 25:29] = 0  # a 16 px hole
    data[50, 50] = 240  # a speck
    data[50:54, 5:9] = 240  # a small landslide of 16 m2
    path = prob_map(tmp_path, data)

    frame = vectorize(path, opening=1, closing=1, min_area_m2=20, max_hole_m2=20)

    assert len(frame) == 1
    assert len(frame.geometry[0].interiors) == 0
    assert frame["area_m2"][0] == pytest.approx(30 * 30 - 4)  # the diamond rounds corners
    kept_hole = vectorize(path, opening=1, closing=1, min_area_m2=20, max_hole_m2=10)
    assert len(kept_hole.geometry[0].interiors) == 1


def test_nodata_pixels_never_join_or_make_polygons(tmp_path):
    data = np.full((40, 40), 240, np.uint8)
    data[:, 19] = NODATA  # a one-pixel strip that closing would otherwise bridge
    data[30:, :] = NODATA
    path = prob_map(tmp_path, data)

    frame = vectorize(path, opening=1, closing=2, block_size=64)

    assert len(frame) == 2
    nodata = shapely.union_all(
        [
            shapely.box(500_019, 3_449_960, 500_020, 3_450_000),
            shapely.box(500_000, 3_449_960, 500_040, 3_449_970),
        ]
    )
    assert not any(g.intersection(nodata).area for g in frame.geometry)


def test_a_raster_that_is_not_a_probability_map_is_refused(tmp_path):
    path = write_geotiff(tmp_path / "rgb.tif", np.zeros((3, 10, 10), np.uint8))

    with pytest.raises(MlcoreError, match="not a probability map"):
        vectorize(path)


def test_polygons_are_written_as_a_geopackage_in_the_map_crs(tmp_path):
    data = np.zeros((30, 30), np.uint8)
    data[5:15, 5:15] = 250
    frame = vectorize(prob_map(tmp_path, data))

    out = write_polygons_gpkg(frame, tmp_path / "out.gpkg")
    empty = write_polygons_gpkg(frame.iloc[:0], tmp_path / "empty.gpkg")

    back = gpd.read_file(out, layer="landslides")
    assert back.crs.to_epsg() == 32647
    assert list(back.columns) == ["area_m2", "mean_prob", "max_prob", "geometry"]
    assert back["area_m2"][0] == pytest.approx(frame["area_m2"][0])
    assert len(gpd.read_file(empty, layer="landslides")) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.gpkg", "out.gpkg", "prob.tif"]
