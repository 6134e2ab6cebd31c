"""The server-side tile cache: a tile is rendered once for everyone, never served stale.

Hits and misses are observed through `tile_cache.renders` (how many tiles this
process rendered) and the files under MEDIA_ROOT/tile-cache, never by
replacing the renderer.
"""

from __future__ import annotations

import io

import morecantile
import numpy as np
import pytest
from django.db import connection
from PIL import Image

from inventories.services import tile_cache
from inventories.services.scenes import scene_import
from tests.factories.rasters import write_geotiff

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")


def pixels(seed: int, size: int = 256) -> np.ndarray:
    """A 3-band size x size uint8 image at 1 m; the left eighth is nodata (0)."""
    data = np.random.default_rng(seed).integers(20, 250, size=(3, size, size), dtype=np.uint8)
    data[:, :, : size // 8] = 0
    return data


def import_scene(project, tmp_path, data: np.ndarray, name: str = "post.tif"):
    path = write_geotiff(tmp_path / name, data, nodata=0)
    (scene,) = scene_import(project=project, source=path, band_names=["red", "green", "blue"])
    return scene


@pytest.fixture
def scene(people, tmp_path):
    return import_scene(people.a, tmp_path, pixels(1))


def inner_tile(scene, zoom: int = 19) -> morecantile.Tile:
    """A tile well inside the scene's data (right of the nodata strip)."""
    west, south, east, north = scene.footprint.extent
    return WEB_MERCATOR.tile(west + (east - west) * 0.7, (south + north) / 2, zoom)


def url(scene, tile, ext: str = "") -> str:
    return f"/api/scenes/{scene.pk}/tiles/{tile.z}/{tile.x}/{tile.y}{ext}?preset=truecolor"


@pytest.mark.django_db
def test_a_repeated_tile_is_not_rendered_again_for_another_member(api, scene):
    tile = inner_tile(scene)
    before = tile_cache.renders
    first = api.bob.get(url(scene, tile))
    assert first.status_code == 200
    assert tile_cache.renders == before + 1
    assert tile_cache.cached_tile_count(scene.pk) == 1
    # Another member, another session, no If-None-Match: served from the cache.
    again = api.rita.get(url(scene, tile))
    assert again.status_code == 200 and again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert tile_cache.renders == before + 1
    # Another preset of the same tile is another picture: rendered.
    other = api.rita.get(url(scene, tile).replace("truecolor", "single"))
    assert other.status_code == 200 and other.content != first.content
    assert tile_cache.renders == before + 2


@pytest.mark.django_db
def test_an_outsider_gets_404_for_a_cached_tile_and_a_member_200(api, scene):
    tile = inner_tile(scene)
    assert api.bob.get(url(scene, tile)).status_code == 200
    assert api.charlie.get(url(scene, tile)).status_code == 404
    assert api.rita.get(url(scene, tile)).status_code == 200


@pytest.mark.django_db
def test_the_server_picks_jpeg_where_every_pixel_has_data_and_png_at_the_edge(
    api, people, scene, tmp_path
):
    # At the scene's own resolution (1 m, zoom 17 here) a JPEG is a fraction of the PNG.
    large = import_scene(people.a, tmp_path, pixels(2, size=1024), name="large.tif")
    inner = api.bob.get(url(large, inner_tile(large, 17)))
    assert inner["Content-Type"] == "image/jpeg"
    picture = Image.open(io.BytesIO(inner.content))
    assert picture.format == "JPEG" and picture.size == (256, 256)
    png = api.bob.get(url(large, inner_tile(large, 17), ".png"))
    assert png["Content-Type"] == "image/png"
    assert len(inner.content) < len(png.content) / 2
    # A tile across the nodata strip keeps its transparency: PNG.
    west, south, east, north = scene.footprint.extent
    edge = WEB_MERCATOR.tile(west + (east - west) / 8, (south + north) / 2, 19)
    response = api.bob.get(url(scene, edge))
    assert response["Content-Type"] == "image/png"
    alpha = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255


@pytest.mark.django_db
def test_deleting_a_scene_through_the_api_removes_its_cached_tiles(
    api, scene, django_capture_on_commit_callbacks
):
    assert api.bob.get(url(scene, inner_tile(scene))).status_code == 200
    assert tile_cache.cached_tile_count(scene.pk) == 1
    assert api.bob.delete(f"/api/scenes/{scene.pk}/").status_code in (403, 404)
    assert tile_cache.cached_tile_count(scene.pk) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert api.alice.delete(f"/api/scenes/{scene.pk}/").status_code == 204
    assert tile_cache.cached_tile_count(scene.pk) == 0


@pytest.mark.django_db
def test_a_reimported_scene_with_the_same_id_never_gets_the_old_tiles(api, people, scene, tmp_path):
    """As after a database restore: the old scene's tiles are still on disk, its id comes back.

    The new image is the old one mirrored, so its band statistics (and the
    stretch) are the same: only the COG's checksum tells the two apart.
    """
    tile = inner_tile(scene)
    old = api.bob.get(url(scene, tile)).content
    pk = scene.pk
    scene.delete()  # the row only: the cached tiles stay, as a restore would leave them
    assert tile_cache.cached_tile_count(pk) == 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('inventories_scene', 'id'), %s, false)", [pk]
        )
    mirrored = pixels(1)[:, ::-1, :].copy()
    again = import_scene(people.a, tmp_path, mirrored, name="post-again.tif")
    assert again.pk == pk and again.band_stats == scene.band_stats
    before = tile_cache.renders
    new = api.bob.get(url(again, tile)).content
    assert tile_cache.renders == before + 1
    assert new != old


@pytest.mark.django_db
def test_with_the_cache_off_every_request_renders(api, scene, settings):
    settings.SCARP_TILE_CACHE = False
    tile = inner_tile(scene)
    before = tile_cache.renders
    assert api.bob.get(url(scene, tile)).status_code == 200
    assert api.bob.get(url(scene, tile)).status_code == 200
    assert tile_cache.renders == before + 2
    assert tile_cache.cached_tile_count(scene.pk) == 0


@pytest.mark.django_db
def test_tiles_around_the_scene_are_blank_and_never_stored(api, scene):
    """Any member can ask for any address at any zoom: those that hold none of the scene
    answer a transparent tile and leave nothing on disk, so they cannot fill it."""
    west, south, east, north = scene.footprint.extent
    away = [WEB_MERCATOR.tile(east + 0.01 * i, north + 0.01 * i, 18) for i in range(1, 4)]
    for tile in away:
        answer = api.bob.get(url(scene, tile, ".png"))
        assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
        assert Image.open(io.BytesIO(answer.content)).getextrema()[-1] == (0, 0)  # all clear
    assert tile_cache.cached_tile_count(scene.pk) == 0
    assert api.bob.get(url(scene, inner_tile(scene), ".png")).status_code == 200
    assert tile_cache.cached_tile_count(scene.pk) == 1  # a tile of the scene is kept
