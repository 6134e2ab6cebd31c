"""Imagery tiles from a real COG and vector tiles from PostGIS, with their caps and caching."""

from __future__ import annotations

import io
import time

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from PIL import Image

from inventories.models import Landslide
from inventories.selectors import tiles as tile_selectors
from inventories.services.scenes import scene_import
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_extent, make_inventory, make_landslide, square

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture
def scene(people, tmp_path):
    """A 4-band 256 x 256 uint16 COG at 1 m; the left quarter is nodata (0)."""
    rng = np.random.default_rng(3)
    data = rng.integers(100, 4000, size=(4, 256, 256), dtype=np.uint16)
    data[:, :, :64] = 0
    path = write_geotiff(tmp_path / "post.tif", data, nodata=0)
    (scene,) = scene_import(
        project=people.a, source=path, band_names=["red", "green", "blue", "nir"]
    )
    return scene


@pytest.fixture
def dem(people, tmp_path):
    yy, xx = np.mgrid[0:128, 0:128]
    elevation = (2000 + 3.0 * xx + 1.5 * yy).astype(np.float32)
    path = write_geotiff(tmp_path / "dem.tif", elevation, nodata=-9999)
    return scene_import(project=people.a, source=path, kind="dem")[0]


def centre_tile(scene, zoom: int = 17) -> morecantile.Tile:
    centroid = scene.footprint.centroid
    return WEB_MERCATOR.tile(centroid.x, centroid.y, zoom)


def tile_url(scene, tile, ext: str = "png", query: str = "") -> str:
    return f"/api/scenes/{scene.pk}/tiles/{tile.z}/{tile.x}/{tile.y}.{ext}{query}"


def image(response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


@pytest.mark.django_db
def test_a_member_gets_a_true_colour_png_tile_of_the_scene(api, scene):
    response = api.bob.get(tile_url(scene, centre_tile(scene)))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/png"
    picture = image(response)
    assert picture.size == (256, 256) and picture.mode == "RGBA"
    alpha = np.asarray(picture)[..., 3]
    assert alpha.max() == 255


@pytest.mark.django_db
def test_nodata_pixels_are_transparent(api, scene):
    west, south, east, north = scene.footprint.extent
    # A tile across the edge of the nodata strip (the first 64 of 256 columns).
    tile = WEB_MERCATOR.tile(west + (east - west) * 0.25, (south + north) / 2, 19)
    alpha = np.asarray(image(api.bob.get(tile_url(scene, tile))).convert("RGBA"))[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255


@pytest.mark.django_db
def test_webp_tiles_and_512_pixel_tiles_are_served(api, scene):
    tile = centre_tile(scene)
    response = api.bob.get(tile_url(scene, tile, "webp", "?tilesize=512"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert image(response).size == (512, 512)


@pytest.mark.django_db
def test_a_tile_outside_the_scene_is_a_transparent_png(api, scene):
    response = api.bob.get(f"/api/scenes/{scene.pk}/tiles/17/0/0.png")
    assert response.status_code == 200
    assert np.asarray(image(response).convert("RGBA"))[..., 3].max() == 0


@pytest.mark.django_db
def test_a_zoomed_out_tile_reads_only_the_part_the_scene_covers(api, scene):
    # Warping the whole zoom-9 tile at the scene's 1 m would take minutes.
    tile = centre_tile(scene, 9)
    start = time.monotonic()
    response = api.bob.get(tile_url(scene, tile))
    assert response.status_code == 200 and time.monotonic() - start < 3
    alpha = np.asarray(image(response).convert("RGBA"))[..., 3]
    assert 0 < (alpha > 0).sum() < 16  # the scene is about 1 pixel wide at zoom 9


@pytest.mark.django_db
def test_false_colour_and_explicit_bands_render_differently_from_true_colour(api, scene):
    tile = centre_tile(scene)
    true = api.bob.get(tile_url(scene, tile)).content
    false = api.bob.get(tile_url(scene, tile, query="?preset=falsecolor")).content
    explicit = api.bob.get(tile_url(scene, tile, query="?bands=4,3,2")).content
    assert true != false and len(explicit) > 0


@pytest.mark.django_db
def test_a_dem_is_coloured_with_the_terrain_colour_map_by_default(api, dem):
    tile = centre_tile(dem, 18)
    response = api.bob.get(tile_url(dem, tile))
    assert response.status_code == 200
    pixels = np.asarray(image(response).convert("RGBA"))
    opaque = pixels[pixels[..., 3] == 255]
    assert len(opaque) and not np.all(opaque[:, 0] == opaque[:, 1])  # coloured, not grey
    grey = api.bob.get(tile_url(dem, tile, query="?colormap=gray"))
    assert grey.content != response.content


@pytest.mark.parametrize(
    ("query", "path", "words"),
    [
        ("", "25/0/0.png", "Zoom 25 is outside"),
        ("", "3/8/0.png", "does not exist"),
        ("?tilesize=1024", None, "Tile size 1024"),
        ("?bands=1,2,3,4", None, "At most 3 bands"),
        ("?bands=7", None, "band 7 does not exist"),
        ("?preset=ndvi", None, "Unknown preset"),
        ("?preset=swir", None, "no bands for the SWIR preset"),
        ("?preset=single&bands=1&colormap=rainbowz", None, "Unknown colour map"),
        ("?bands=a,b", None, "band numbers"),
    ],
)
@pytest.mark.django_db
def test_requests_past_the_caps_get_400_with_a_sentence(api, scene, query, path, words):
    url = f"/api/scenes/{scene.pk}/tiles/{path}" if path else tile_url(scene, centre_tile(scene))
    response = api.bob.get(url + query)
    assert response.status_code == 400
    assert words in response.json()["detail"]


@pytest.mark.django_db
def test_an_outsider_gets_404_and_an_anonymous_caller_is_refused(api, scene, client):
    url = tile_url(scene, centre_tile(scene))
    assert api.charlie.get(url).status_code == 404
    assert client.get(url).status_code in (401, 403)


@pytest.mark.django_db
def test_tiles_carry_an_etag_and_a_repeat_request_gets_304(api, scene):
    url = tile_url(scene, centre_tile(scene))
    first = api.bob.get(url)
    assert first["Cache-Control"].startswith("private")
    assert "max-age" in first["Cache-Control"]
    again = api.bob.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    other = api.bob.get(url + "?preset=falsecolor", HTTP_IF_NONE_MATCH=first["ETag"])
    assert other.status_code == 200 and other["ETag"] != first["ETag"]


def decode(response) -> dict:
    return mapbox_vector_tile.decode(response.content)


@pytest.mark.django_db
def test_a_vector_tile_holds_the_landslides_with_their_id_and_properties(api, people):
    inventory = make_inventory(people.a)
    landslide = make_landslide(inventory, landslide_type="flow", confidence=0.8, version=3)
    elsewhere = make_inventory(people.a, "other")
    make_landslide(elsewhere)
    tile = WEB_MERCATOR.tile(98.6805, 31.1405, 16)
    response = api.bob.get(f"/api/inventories/{inventory.pk}/tiles/16/{tile.x}/{tile.y}.mvt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    (feature,) = decode(response)["landslides"]["features"]
    assert feature["id"] == landslide.pk
    assert feature["properties"] == {
        "version": 3,
        "type": "flow",
        "review_state": "none",
        "confidence": 0.8,
        "area": 10000.0,
    }
    assert feature["geometry"]["type"] == "Polygon"


@pytest.mark.django_db
def test_an_empty_vector_tile_is_empty_and_an_outsider_gets_404(api, people):
    inventory = make_inventory(people.a)
    make_landslide(inventory)
    empty = api.bob.get(f"/api/inventories/{inventory.pk}/tiles/16/0/0.mvt")
    assert empty.status_code == 200 and empty.content == b""
    assert api.charlie.get(f"/api/inventories/{inventory.pk}/tiles/16/0/0.mvt").status_code == 404
    assert api.bob.get(f"/api/inventories/{inventory.pk}/tiles/30/0/0.mvt").status_code == 400


@pytest.mark.django_db
def test_a_vector_tile_keeps_the_largest_polygons_up_to_the_cap(api, people, monkeypatch):
    monkeypatch.setattr(tile_selectors, "MAX_FEATURES", 3)
    inventory = make_inventory(people.a)
    for i in range(6):
        make_landslide(inventory, geometry=square(98.68 + i * 0.002), area_m2=1000.0 + i)
    tile = WEB_MERCATOR.tile(98.685, 31.1405, 14)
    response = api.bob.get(f"/api/inventories/{inventory.pk}/tiles/14/{tile.x}/{tile.y}.mvt")
    areas = sorted(f["properties"]["area"] for f in decode(response)["landslides"]["features"])
    assert areas == [1003.0, 1004.0, 1005.0]


@pytest.mark.django_db
def test_polygons_too_small_to_see_are_left_out_of_zoomed_out_tiles(api, people):
    inventory = make_inventory(people.a)
    tiny = Polygon.from_bbox((98.68, 31.14, 98.68001, 31.14001))
    make_landslide(inventory, geometry=MultiPolygon(tiny, srid=4326), area_m2=1.0)
    far = WEB_MERCATOR.tile(98.68, 31.14, 8)
    near = WEB_MERCATOR.tile(98.680005, 31.140005, 20)
    url = f"/api/inventories/{inventory.pk}/tiles/{{}}/{{}}/{{}}.mvt"
    assert api.bob.get(url.format(8, far.x, far.y)).content == b""
    assert decode(api.bob.get(url.format(20, near.x, near.y)))["landslides"]["features"]


@pytest.mark.django_db
def test_vector_tiles_answer_304_when_nothing_changed_and_200_after_an_edit(api, people):
    inventory = make_inventory(people.a)
    landslide = make_landslide(inventory)
    tile = WEB_MERCATOR.tile(98.6805, 31.1405, 16)
    url = f"/api/inventories/{inventory.pk}/tiles/16/{tile.x}/{tile.y}.mvt"
    first = api.bob.get(url)
    assert "no-cache" in first["Cache-Control"]
    assert api.bob.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    Landslide.objects.filter(pk=landslide.pk).update(version=2)
    assert api.bob.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


@pytest.mark.django_db
def test_the_extent_vector_tile_carries_the_split_role(api, people):
    inventory = make_inventory(people.a)
    extent = make_extent(inventory, split="validation", name="north block")
    tile = WEB_MERCATOR.tile(98.685, 31.145, 14)
    response = api.bob.get(
        f"/api/inventories/{inventory.pk}/extents/tiles/14/{tile.x}/{tile.y}.mvt"
    )
    (feature,) = decode(response)["extents"]["features"]
    assert feature["id"] == extent.pk
    assert feature["properties"] == {"version": 1, "split": "validation", "name": "north block"}
    outsider = api.charlie.get(f"/api/inventories/{inventory.pk}/extents/tiles/14/0/0.mvt")
    assert outsider.status_code == 404


@pytest.mark.django_db
def test_the_map_page_offers_each_scene_the_presets_its_bands_allow(client, people, scene, dem):
    client.force_login(people.bob)
    response = client.get(f"/projects/{people.a.pk}/map/")
    assert response.status_code == 200
    config = response.context["config"]
    presets = {s["name"]: s["presets"] for s in config["scenes"]}
    assert presets[scene.name] == ["truecolor", "falsecolor", "single"]
    assert presets[dem.name] == ["single"]
    assert b"static/vendor/leaflet/leaflet.js" in response.content
    client.force_login(people.charlie)
    assert client.get(f"/projects/{people.a.pk}/map/").status_code == 404
