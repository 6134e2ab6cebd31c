"""GDAL reads only the local file it was handed: no URL in a file makes it reach out.

Each hostile file points at a listener on 127.0.0.1; the listener must hear
nothing, and the file must be refused with a sentence that says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlcore.data import read_vector
from mlcore.data.labels import LabelError
from mlcore.gdal_env import NETWORK_OFF
from mlcore.raster.geotiff import NotAGeoTIFF, open_geotiff
from mlcore.vector.polygons import VectorFileError, read_polygons
from tests.factories.hostile import (
    geojson_with_crs,
    link_crs,
    raster_vrt,
    vector_vrt,
    zipped_shapefile_of_vrt,
)
from tests.factories.listener import listening

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def listener():
    with listening() as listener:
        yield listener


@pytest.mark.parametrize(
    "crs",
    [
        lambda url: link_crs(url),
        lambda url: {"type": "url", "properties": {"url": url}},
        lambda url: {"type": "LINK", "properties": {"href": url}},
        lambda url: {"type": "name", "properties": {"name": url}},
    ],
    ids=["link", "url", "upper-case-link", "url-as-name"],
)
def test_a_geojson_crs_that_is_a_link_is_refused_and_never_fetched(tmp_path, listener, crs):
    path = geojson_with_crs(tmp_path / "slides.geojson", crs(listener.url("/crs")))
    with pytest.raises(VectorFileError, match="slides.geojson.*crs.*link"):
        read_polygons(path)
    assert listener.requests == []


def test_a_link_crs_key_spelled_with_escapes_is_refused_too(tmp_path, listener):
    path = tmp_path / "slides.geojson"
    text = json.dumps(
        {"type": "FeatureCollection", "crs": link_crs(listener.url("/crs")), "features": []}
    )
    path.write_text(text.replace('"crs"', '"\\u0063Rs"'))
    with pytest.raises(VectorFileError, match="crs"):
        read_polygons(path)
    assert listener.requests == []


def test_a_link_crs_on_a_geometry_is_refused(tmp_path, listener):
    geometry = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],
        "crs": link_crs(listener.url("/geometry-crs")),
    }
    feature = {"type": "Feature", "properties": {}, "geometry": geometry}
    path = tmp_path / "slides.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(VectorFileError, match="crs"):
        read_polygons(path)
    assert listener.requests == []


def test_a_named_crs_as_qgis_writes_it_still_reads(tmp_path):
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    parsed = read_polygons(geojson_with_crs(tmp_path / "slides.geojson", crs))
    assert len(parsed.frame) == 1 and parsed.frame["name"].tolist() == ["one"]


def test_a_zipped_shapefile_whose_shp_is_vrt_is_refused_before_gdal_opens_it(tmp_path, listener):
    path = zipped_shapefile_of_vrt(tmp_path / "slides.zip", listener.url("/layer.geojson"))
    with pytest.raises(VectorFileError, match=r"slides.zip.*slides.shp.*not a Shapefile"):
        read_polygons(path)
    assert listener.requests == []


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".kml", ".json"])
def test_vrt_xml_under_any_vector_name_is_refused(tmp_path, listener, suffix):
    path = tmp_path / f"slides{suffix}"
    path.write_text(vector_vrt(listener.url("/layer.geojson")))
    with pytest.raises(VectorFileError):
        read_polygons(path)
    assert listener.requests == []


def test_a_vrt_named_tif_never_reaches_the_url_it_names(tmp_path, listener):
    path = tmp_path / "post.tif"
    path.write_text(raster_vrt(listener.url("/band.tif")))
    with pytest.raises(NotAGeoTIFF):
        open_geotiff(path)
    assert listener.requests == []


@pytest.mark.parametrize("name", ["/vsicurl/http://127.0.0.1:9/x.tif", "http://127.0.0.1:9/x.tif"])
def test_a_gdal_virtual_path_is_refused_as_a_raster(name):
    with pytest.raises(NotAGeoTIFF, match="local file"):
        open_geotiff(name)


def test_the_training_command_reads_labels_by_the_same_rules(tmp_path, listener):
    """`python -m mlcore train --labels` goes through the checked reader, not GDAL's guess."""
    vrt = tmp_path / "labels.vrt"
    vrt.write_text(vector_vrt(listener.url("/layer.geojson")))
    with pytest.raises(LabelError, match="labels.vrt"):
        read_vector(vrt)
    linked = geojson_with_crs(tmp_path / "labels.geojson", link_crs(listener.url("/crs")))
    with pytest.raises(LabelError, match="crs"):
        read_vector(linked)
    assert listener.requests == []


_DIRECT_OPENS = """
import sys
import mlcore.vector.polygons, mlcore.raster.geotiff  # the readers set the policy as they load
import pyogrio, rasterio
url = sys.argv[1]
for opener in (pyogrio.read_info, rasterio.open):
    try:
        opener("/vsicurl/" + url)
    except Exception:
        pass
"""


@pytest.mark.parametrize("allowed, heard", [("", False), ("false", False), ("true", True)])
def test_gdal_network_is_off_unless_the_operator_allows_it(listener, allowed, heard):
    """Even GDAL opened directly, past our checks, cannot reach out by default."""
    # A fresh process, without the options this one already set on itself.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SCARP_GDAL") and k not in NETWORK_OFF
    }
    if allowed:
        env["SCARP_GDAL_ALLOW_NETWORK"] = allowed
    subprocess.run(
        [sys.executable, "-c", _DIRECT_OPENS, listener.url("/direct.tif")],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    assert bool(listener.requests) is heard, listener.requests


def test_a_malformed_network_setting_stops_the_process(listener):
    env = {**os.environ, "SCARP_GDAL_ALLOW_NETWORK": "perhaps"}
    done = subprocess.run(
        [sys.executable, "-c", "import mlcore.raster.geotiff"],
        cwd=ROOT,
        env=env,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "SCARP_GDAL_ALLOW_NETWORK" in done.stderr
