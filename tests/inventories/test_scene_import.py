"""Importing imagery: good rasters become COG scenes; bad ones change nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from inventories.errors import InvalidInput
from inventories.models import Scene
from inventories.services.scenes import scene_import
from mlcore.errors import MlcoreError
from mlcore.raster import geotiff
from tests.factories.rasters import write_geotiff


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "scenes"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def four_band(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    data = rng.integers(1, 4000, size=(4, 2000, 2000), dtype=np.uint16)
    return write_geotiff(tmp_path / "scene.tif", data, resolution=10.0, nodata=0)


@pytest.mark.django_db
def test_a_4_band_2000px_geotiff_becomes_a_valid_cog_with_footprint_and_stats(people, four_band):
    (scene,) = scene_import(
        project=people.a, source=four_band, band_names=["blue", "green", "red", "nir"]
    )
    assert geotiff.is_valid_cog(scene.path)
    assert (scene.width, scene.height, scene.band_count) == (2000, 2000, 4)
    assert scene.epsg == 32647 and scene.resolution_x == 10.0
    assert scene.band_names == ["blue", "green", "red", "nir"]
    # UTM 47N at 500 km easting, 3450 km northing: about 99 E, 31.2 N.
    lon, lat = scene.footprint.centroid.coords
    assert 98.9 < lon < 99.3 and 31.0 < lat < 31.3
    assert len(scene.band_stats) == 4
    stats = scene.band_stats[0]
    assert 0 < stats["p2"] < stats["mean"] < stats["p98"] < 4000
    assert stats["std"] > 0


@pytest.mark.django_db
def test_a_dem_also_yields_slope_and_hillshade_scenes(people, tmp_path):
    yy, xx = np.mgrid[0:200, 0:200].astype("float32")
    dem = write_geotiff(tmp_path / "dem.tif", 1000 + 0.5 * xx + 0.2 * yy, nodata=-9999.0)
    scenes = scene_import(project=people.a, source=dem, kind="dem")
    kinds = sorted(s.kind for s in scenes)
    assert kinds == ["dem", "hillshade", "slope"]
    slope = next(s for s in scenes if s.kind == "slope")
    assert slope.source == next(s for s in scenes if s.kind == "dem")
    assert geotiff.is_valid_cog(slope.path)
    # A plane rising 0.5 m per metre east and 0.2 m per metre south: atan(sqrt(.29)).
    assert slope.band_stats[0]["mean"] == pytest.approx(np.degrees(np.arctan(0.29**0.5)), abs=0.5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_text("hello, not an image"), "not a GeoTIFF"),
        (
            lambda p: p.write_text(
                '<VRTDataset rasterXSize="10" rasterYSize="10"><VRTRasterBand dataType="Byte" '
                'band="1"><SimpleSource><SourceFilename>/etc/passwd</SourceFilename>'
                "</SimpleSource></VRTRasterBand></VRTDataset>"
            ),
            "not a GeoTIFF",
        ),
        (
            lambda p: write_geotiff(p, np.ones((1, 50, 50), dtype="uint8"), crs=None),
            "coordinate reference system",
        ),
    ],
    ids=["text-file", "vrt-renamed-tif", "no-crs"],
)
def test_bad_rasters_are_refused_and_leave_nothing(people, tmp_path, make, message):
    bad = tmp_path / "bad.tif"
    make(bad)
    with pytest.raises(MlcoreError) as excinfo:
        scene_import(project=people.a, source=bad)
    assert message in str(excinfo.value)
    assert "bad.tif" in str(excinfo.value)
    assert Scene.objects.count() == 0
    assert stored_files() == []


@pytest.mark.django_db
def test_a_raster_over_the_pixel_budget_is_refused(people, tmp_path, settings):
    settings.SCARP_MAX_RASTER_SAMPLES = 100 * 100
    big = write_geotiff(tmp_path / "big.tif", np.ones((2, 100, 100), dtype="uint8"))
    with pytest.raises(MlcoreError, match="20,000 samples"):
        scene_import(project=people.a, source=big)
    assert Scene.objects.count() == 0 and stored_files() == []


@pytest.mark.django_db
def test_band_names_must_match_the_band_count(people, tmp_path):
    image = write_geotiff(tmp_path / "rgb.tif", np.ones((3, 20, 20), dtype="uint8"))
    with pytest.raises(InvalidInput, match="3 bands"):
        scene_import(project=people.a, source=image, band_names=["red", "green"])
    assert Scene.objects.count() == 0 and stored_files() == []
