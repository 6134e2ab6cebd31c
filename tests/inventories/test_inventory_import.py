"""Importing and exporting inventories through the services and the commands."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from shapely.geometry import Polygon, box

from inventories.models import Inventory, Landslide, MappedExtent
from inventories.services.inventories import extents_import, inventory_export, inventory_import
from mlcore.errors import MlcoreError
from tests.conftest import SHARED_DATA

WENCHUAN = SHARED_DATA / "inventories" / "wenchuan_2009_predicted_shp.zip"
BAIGE_A = SHARED_DATA / "baige" / "A"


def utm_frame(n: int = 3) -> gpd.GeoDataFrame:
    squares = [box(500_000 + i * 200, 3_450_000, 500_100 + i * 200, 3_450_100) for i in range(n)]
    return gpd.GeoDataFrame(
        {"code": [f"L{i}" for i in range(n)], "depth_m": [1.5 * i for i in range(n)]},
        geometry=squares,
        crs="EPSG:32647",
    )


@pytest.mark.django_db
def test_a_utm_geopackage_is_reprojected_with_areas_in_square_metres(people, tmp_path):
    path = tmp_path / "slides.gpkg"
    utm_frame().to_file(path)
    inventory = inventory_import(project=people.a, path=path, name="UTM")
    landslides = list(inventory.landslides.order_by("pk"))
    assert len(landslides) == 3
    assert all(ls.area_m2 == pytest.approx(10_000, rel=0.005) for ls in landslides)
    lon, lat = landslides[0].geometry.centroid.coords
    assert 98.9 < lon < 99.3 and 31.0 < lat < 31.3
    assert landslides[1].attributes == {"code": "L1", "depth_m": 1.5}
    assert inventory.source_crs == "EPSG:32647"


@pytest.mark.django_db
def test_a_file_with_one_broken_feature_imports_nothing_and_names_it(people, tmp_path):
    frame = utm_frame()
    frame.loc[1, "geometry"] = frame.geometry[1].boundary  # a LineString
    path = tmp_path / "broken.gpkg"
    frame.to_file(path)
    with pytest.raises(MlcoreError) as excinfo:
        inventory_import(project=people.a, path=path, name="Broken")
    assert "feature 2" in str(excinfo.value)
    assert not Inventory.objects.filter(name="Broken").exists()
    assert Landslide.objects.count() == 0


@pytest.mark.django_db
def test_a_bow_tie_is_repaired_and_flagged(people, tmp_path):
    bowtie = Polygon(
        [(500_000, 3_450_000), (500_100, 3_450_100), (500_100, 3_450_000), (500_000, 3_450_100)]
    )
    frame = gpd.GeoDataFrame({"code": ["x"]}, geometry=[bowtie], crs="EPSG:32647")
    path = tmp_path / "bowtie.gpkg"
    frame.to_file(path)
    inventory = inventory_import(project=people.a, path=path, name="Bowtie")
    landslide = inventory.landslides.get()
    assert landslide.repaired is True
    assert landslide.area_m2 == pytest.approx(5_000, rel=0.01)


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", [".gpkg", ".zip", ".geojson"])
def test_export_then_import_keeps_geometries_attributes_and_crs(people, tmp_path, suffix):
    source = tmp_path / "slides.gpkg"
    utm_frame().to_file(source)
    original = inventory_import(project=people.a, path=source, name="Original")
    exported = inventory_export(inventory=original, path=tmp_path / f"export{suffix}")
    again = inventory_import(project=people.a, path=exported, name="Again")
    if suffix != ".geojson":
        assert gpd.read_file(exported).crs.to_epsg() == 32647
    pairs = zip(original.landslides.order_by("pk"), again.landslides.order_by("pk"), strict=True)
    for before, after in pairs:
        assert before.geometry.equals_exact(after.geometry, tolerance=1e-9)
        assert after.attributes["code"] == before.attributes["code"]
        assert after.attributes["depth_m"] == before.attributes["depth_m"]
        assert after.area_m2 == pytest.approx(before.area_m2, rel=1e-6)


@pytest.mark.django_db
def test_mapped_extents_come_with_their_split(people, tmp_path):
    inventory = inventory_import(project=people.a, path=_write(utm_frame(), tmp_path), name="I")
    extents = gpd.GeoDataFrame(
        {"split": ["train", "validation"]},
        geometry=[
            box(499_000, 3_449_000, 500_500, 3_451_000),
            box(500_500, 3_449_000, 502_000, 3_451_000),
        ],
        crs="EPSG:32647",
    )
    path = tmp_path / "extents.gpkg"
    extents.to_file(path)
    created = extents_import(inventory=inventory, path=path)
    assert sorted(e.split for e in created) == ["train", "validation"]
    extents["split"] = ["train", "holdout"]
    extents.to_file(path)
    with pytest.raises(Exception, match="holdout"):
        extents_import(inventory=inventory, path=path)
    assert MappedExtent.objects.filter(inventory=inventory).count() == 2


def _write(frame: gpd.GeoDataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "frame.gpkg"
    frame.to_file(path)
    return path


@pytest.mark.django_db
def test_import_and_export_commands_round_trip(people, tmp_path, capsys):
    source = _write(utm_frame(), tmp_path)
    call_command("import_inventory", "Project A", str(source), "--name", "Cmd")
    inventory = Inventory.objects.get(name="Cmd")
    out = tmp_path / "cmd.geojson"
    call_command("export_inventory", str(inventory.pk), str(out))
    features = json.loads(out.read_text())["features"]
    assert len(features) == 3 and features[0]["properties"]["code"] == "L0"
    with pytest.raises(CommandError, match="No project"):
        call_command("import_inventory", "Nowhere", str(source), "--name", "x")


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.skipif(not WENCHUAN.exists(), reason="shared data folder not present")
def test_the_real_10335_polygon_wenchuan_shapefile_imports_and_round_trips(people, tmp_path):
    inventory = inventory_import(project=people.a, path=WENCHUAN, name="Wenchuan")
    assert inventory.landslides.count() == 10_335
    assert inventory.source_crs.endswith("32648")
    # Areas computed geodesically agree with the planar areas in UTM 48N.
    source = gpd.read_file(WENCHUAN)
    expected = source.geometry.area.sum()
    stored = sum(inventory.landslides.values_list("area_m2", flat=True))
    assert stored == pytest.approx(expected, rel=0.005)
    lon, lat = inventory.landslides.first().geometry.centroid.coords
    assert 102 < lon < 106 and 29 < lat < 33
    exported = inventory_export(inventory=inventory, path=tmp_path / "wenchuan.zip")
    again = gpd.read_file(exported)
    assert len(again) == 10_335 and again.crs.to_epsg() == 32648
    assert again.geometry.area.sum() == pytest.approx(expected, rel=1e-6)


@pytest.mark.django_db
@pytest.mark.skipif(not BAIGE_A.exists(), reason="shared data folder not present")
def test_the_real_baige_landslides_and_extent_import(people):
    inventory = inventory_import(project=people.a, path=BAIGE_A / "landslides.gpkg", name="Baige A")
    assert inventory.landslides.count() == 16
    extents = extents_import(inventory=inventory, path=BAIGE_A / "extent.gpkg")
    assert [e.split for e in extents] == ["train"]
