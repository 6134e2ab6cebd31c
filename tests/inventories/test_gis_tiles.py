"""TileJSON 3.0 and WMTS capabilities: a scene opened by GDAL's WMTS driver, as QGIS would."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import morecantile
import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.windows import Window
from rest_framework.authtoken.models import Token

from inventories.services.scenes import scene_import
from tests.factories.gdal_client import rasterio_client
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_inventory, make_landslide

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture
def scene(people, tmp_path):
    """A 4-band 512 x 512 uint16 scene at 1 m with a gradient, so every tile differs."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:512, 0:512]
    data = np.stack([xx * 7 + 100, yy * 7 + 100, (xx + yy) * 3 + 100, xx * 0 + 900])
    data = (data + rng.integers(0, 50, size=data.shape)).astype(np.uint16)
    path = write_geotiff(tmp_path / "post.tif", data)
    (scene,) = scene_import(
        project=people.a, source=path, band_names=["red", "green", "blue", "nir"], name="Post <b>"
    )
    return scene


def wmts_url(project) -> str:
    return f"/api/projects/{project.pk}/wmts/WMTSCapabilities.xml"


def png(response) -> np.ndarray:
    assert response.status_code == 200, response.content
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("preset", ["truecolor", "falsecolor"])
def test_gdal_wmts_reads_the_same_pixels_as_the_tile_endpoint(
    api, people, scene, live_server, preset
):
    tilejson = api.bob.get(f"/api/scenes/{scene.pk}/tilejson.json").json()
    zoom = tilejson["maxzoom"]
    centre = scene.footprint.centroid
    tile = WEB_MERCATOR.tile(centre.x, centre.y, zoom)
    token = Token.objects.create(user=people.bob).key
    source = f"WMTS:{live_server.url}{wmts_url(people.a)},layer=scene-{scene.pk},style={preset}"
    with rasterio_client(token), rasterio.open(source) as dataset:
        bounds = WEB_MERCATOR.xy_bounds(tile)
        col = (bounds.left - dataset.transform.c) / dataset.transform.a
        row = (bounds.top - dataset.transform.f) / dataset.transform.e
        assert (col, row) == pytest.approx((round(col), round(row)), abs=1e-3)
        assert dataset.crs.to_epsg() == 3857 and dataset.count == 4
        window = dataset.read(window=Window(round(col), round(row), 256, 256))
    ours = png(
        api.bob.get(f"/api/scenes/{scene.pk}/tiles/{zoom}/{tile.x}/{tile.y}.png?preset={preset}")
    )
    assert ours[..., 3].max() == 255  # the tile holds the scene, not only transparency
    assert np.array_equal(np.moveaxis(window, 0, -1), ours)


@pytest.mark.django_db(transaction=True)
def test_gdal_wmts_as_an_outsider_opens_nothing(people, scene, live_server):
    source = f"WMTS:{live_server.url}{wmts_url(people.a)},layer=scene-{scene.pk}"
    charlie = Token.objects.create(user=people.charlie).key
    with rasterio_client(charlie), pytest.raises(rasterio.errors.RasterioIOError):
        rasterio.open(source)
    bob = Token.objects.create(user=people.bob).key
    with rasterio_client(bob), rasterio.open(source) as dataset:
        assert dataset.count == 4


@pytest.mark.django_db
def test_capabilities_list_each_scene_with_its_presets_as_styles(api, people, scene):
    response = api.bob.get(wmts_url(people.a))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    (layer,) = root.iter(f"{WMTS}Layer")
    assert layer.find(f"{OWS}Title").text == "Post <b>"  # the name as text, escaped in the XML
    styles = [style.find(f"{OWS}Identifier").text for style in layer.iter(f"{WMTS}Style")]
    assert styles == ["truecolor", "falsecolor", "single"]
    template = layer.find(f"{WMTS}ResourceURL").get("template")
    assert template.endswith(
        f"/api/scenes/{scene.pk}/tiles/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png?preset={{Style}}"
    )


@pytest.mark.django_db
def test_scene_tilejson_per_preset(api, scene):
    url = f"/api/scenes/{scene.pk}/tilejson.json"
    default = api.bob.get(url).json()
    assert default["tilejson"] == "3.0.0"
    assert default["preset"] == "truecolor"
    assert set(default["presets"]) == {"truecolor", "falsecolor", "single"}
    # 1 m pixels at 31 N: web-mercator zoom 18 is the first at least as fine.
    assert default["maxzoom"] == 18
    assert default["minzoom"] < default["maxzoom"]
    west, south, east, north = default["bounds"]
    assert west < scene.footprint.centroid.x < east and south < scene.footprint.centroid.y < north
    (tiles,) = api.bob.get(url + "?preset=falsecolor").json()["tiles"]
    assert tiles.endswith(f"/api/scenes/{scene.pk}/tiles/{{z}}/{{x}}/{{y}}.png?preset=falsecolor")
    response = api.bob.get(url + "?preset=swir")
    assert response.status_code == 400
    assert "swir" in response.json()["detail"] and "Post <b>" in response.json()["detail"]


@pytest.mark.django_db
def test_inventory_tilejson_names_its_vector_layer(api, people):
    inventory = make_inventory(people.a, "Field 2018")
    make_landslide(inventory)
    document = api.bob.get(f"/api/inventories/{inventory.pk}/tilejson.json").json()
    assert document["tilejson"] == "3.0.0"
    (layer,) = document["vector_layers"]
    assert layer["id"] == "landslides"
    assert {"type", "review_state", "area"} <= set(layer["fields"])
    (tiles,) = document["tiles"]
    assert tiles.endswith(f"/api/inventories/{inventory.pk}/tiles/{{z}}/{{x}}/{{y}}.mvt")
    assert document["bounds"] == pytest.approx([98.68, 31.14, 98.681, 31.141])


@pytest.mark.django_db
def test_an_outsider_gets_404_and_a_member_200_on_every_tile_description(api, people, scene):
    inventory = make_inventory(people.a, "Field 2018")
    for url in [
        wmts_url(people.a),
        f"/api/scenes/{scene.pk}/tilejson.json",
        f"/api/inventories/{inventory.pk}/tilejson.json",
    ]:
        response = api.charlie.get(url)
        assert response.status_code == 404, url
        assert b"Post" not in response.content and b"Field" not in response.content
        assert api.bob.get(url).status_code == 200, url


@pytest.mark.django_db
def test_tile_descriptions_are_in_the_openapi_schema(api):
    paths = api.bob.get("/api/schema/?format=json").json()["paths"]
    assert "/api/scenes/{id}/tilejson.json" in paths
    assert "/api/inventories/{inventory_pk}/tilejson.json" in paths
    assert "/api/projects/{project_pk}/wmts/WMTSCapabilities.xml" in paths
