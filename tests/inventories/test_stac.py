"""STAC out: each scene an Item, the project a Collection, valid against local schemas."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pystac
import pytest

from inventories.selectors import stac
from inventories.services.scenes import scene_import
from tests.factories.rasters import write_geotiff


@pytest.fixture
def scene(people, tmp_path):
    rng = np.random.default_rng(8)
    data = rng.integers(1, 4000, size=(4, 128, 160), dtype=np.uint16)
    path = write_geotiff(tmp_path / "post.tif", data, nodata=0)
    (scene,) = scene_import(
        project=people.a,
        source=path,
        name="Post-event",
        band_names=["red", "green", "blue", "nir"],
        acquired_on=dt.date(2018, 11, 5),
    )
    return scene


@pytest.mark.django_db
def test_a_scene_is_a_valid_stac_item_with_its_cog_projection_and_bands(api, scene):
    item = api.bob.get(f"/api/scenes/{scene.pk}/stac/").json()
    checked = stac.validate(item)
    assert any("projection/v2.0.0" in uri for uri in checked)
    assert any("raster/v1.1.0" in uri for uri in checked)
    assert item["properties"]["datetime"].startswith("2018-11-05")
    assert item["properties"]["proj:code"] == "EPSG:32647"
    assert item["properties"]["proj:shape"] == [128, 160]
    assert item["properties"]["proj:transform"][:3] == [1.0, 0.0, 500_000.0]
    asset = item["assets"]["image"]
    assert asset["type"] == pystac.MediaType.COG
    assert [band["name"] for band in asset["bands"]] == ["red", "green", "blue", "nir"]
    assert asset["raster:bands"][0]["data_type"] == "uint16"
    assert asset["raster:bands"][0]["nodata"] == 0
    # The asset is the stored COG itself, for a member.
    cog = api.bob.get(asset["href"])
    assert cog.status_code == 200
    body = b"".join(cog.streaming_content)
    assert hashlib.sha256(body).hexdigest() == scene.checksum


@pytest.mark.django_db
def test_the_project_is_a_valid_stac_collection_linking_its_items(api, people, scene):
    collection = api.bob.get(f"/api/projects/{people.a.pk}/stac/").json()
    stac.validate(collection)
    assert collection["type"] == "Collection" and collection["title"] == "Project A"
    items = [link["href"] for link in collection["links"] if link["rel"] == "item"]
    assert len(items) == 1 and items[0].endswith(f"/api/scenes/{scene.pk}/stac/")
    west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
    assert west < scene.footprint.centroid.x < east and south < scene.footprint.centroid.y < north


def test_a_schema_that_is_not_local_is_an_error_not_a_download():
    item = pystac.Item("x", None, None, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), {}).to_dict()
    item["stac_extensions"] = ["https://stac-extensions.github.io/eo/v2.0.0/schema.json"]
    with pytest.raises(pystac.errors.STACValidationError, match="not available offline"):
        stac.validate(item)


@pytest.mark.django_db
def test_an_outsider_gets_404_on_every_stac_url_and_a_member_200(api, people, scene):
    for url in [
        f"/api/scenes/{scene.pk}/stac/",
        f"/api/scenes/{scene.pk}/cog/",
        f"/api/projects/{people.a.pk}/stac/",
    ]:
        response = api.charlie.get(url)
        assert response.status_code == 404, url
        assert b"Post-event" not in response.content
        assert api.bob.get(url).status_code == 200, url


@pytest.mark.django_db
def test_the_stac_endpoints_are_in_the_openapi_schema(api):
    paths = api.bob.get("/api/schema/?format=json").json()["paths"]
    for path in ("/api/scenes/{id}/stac/", "/api/scenes/{id}/cog/"):
        assert path in paths
    assert "/api/projects/{project_pk}/stac/" in paths
