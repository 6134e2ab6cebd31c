"""STAC in: an Item's COG asset becomes the same Scene a file upload of that COG gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from inventories.models import Job, Scene
from tests.conftest import wait_for
from tests.factories.listener import listening
from tests.factories.rasters import write_geotiff

BANDS = ["red", "green", "blue", "nir"]


def a_cog(folder: Path, name: str = "post.tif") -> Path:
    """A real COG, as a STAC catalogue would hold it."""
    rng = np.random.default_rng(11)
    plain = write_geotiff(
        folder / f"plain-{name}", rng.integers(1, 255, size=(4, 200, 240), dtype=np.uint8)
    )
    cog = folder / name
    cog_translate(plain, cog, cog_profiles.get("deflate"), quiet=True)
    return cog


def item(href: str, **asset) -> dict:
    """A STAC 1.1 Item as other catalogues write them, with band names on the asset."""
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "baige-post",
        "geometry": None,
        "properties": {"datetime": "2018-11-05T04:12:00Z", "title": "Baige post-event"},
        "links": [],
        "assets": {
            "visual": {
                "href": href,
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "bands": [{"name": b} for b in BANDS],
                **asset,
            },
            "thumbnail": {"href": "thumb.png", "type": "image/png", "roles": ["thumbnail"]},
        },
    }


def stac_import(client, project, document):
    return client.post(
        f"/api/projects/{project.pk}/scenes/stac/", {"document": document}, format="json"
    )


def finished_scene(job_id: int) -> Scene:
    job = wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).first(),
        timeout=240,
    )
    assert job.state == "succeeded", job.error
    (scene_id,) = job.result["scene_ids"]
    return Scene.objects.get(pk=scene_id)


FIELDS = [
    "width", "height", "band_count", "band_names", "dtype", "crs_wkt", "epsg", "resolution_x",
    "resolution_y", "nodata", "band_stats", "checksum", "size_bytes", "acquired_on", "kind",
]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_stac_import_gives_the_same_scene_as_an_upload_of_the_cog(
    api, people, settings, tmp_path, celery_worker
):
    root = tmp_path / "catalogue"
    root.mkdir()
    cog = a_cog(root)
    settings.SCARP_STAC_IMPORT_ROOT = str(root)
    response = stac_import(api.alice, people.a, item("post.tif"))
    assert response.status_code == 202, response.content
    (job,) = response.json()
    from_stac = finished_scene(job["id"])

    uploaded = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/",
        {
            "file": SimpleUploadedFile("post.tif", cog.read_bytes()),
            "band_names": ",".join(BANDS),
            "acquired_on": "2018-11-05",
        },
        format="multipart",
    )
    assert uploaded.status_code == 202, uploaded.content
    from_upload = finished_scene(uploaded.json()["id"])

    assert from_stac.name == "Baige post-event" and from_stac.original_filename == "post.tif"
    assert from_stac.band_names == BANDS and from_stac.acquired_on == dt.date(2018, 11, 5)
    for name in FIELDS:
        assert getattr(from_stac, name) == getattr(from_upload, name), name
    assert from_stac.footprint.equals_exact(from_upload.footprint, 1e-9)
    assert cog.exists()  # the catalogue's file is copied, never moved or deleted


@pytest.mark.django_db
def test_a_local_path_outside_the_import_folder_is_refused_and_nothing_stored(
    api, people, settings, tmp_path, media_root
):
    root = tmp_path / "catalogue"
    root.mkdir()
    outside = a_cog(tmp_path)
    (root / "link.tif").symlink_to(outside)
    settings.SCARP_STAC_IMPORT_ROOT = str(root)
    for href in [str(outside), "../post.tif", "link.tif", f"file://{outside}"]:
        response = stac_import(api.alice, people.a, item(href))
        assert response.status_code == 400, href
        assert "outside the STAC import folder" in response.json()["detail"], href
    assert not Job.objects.exists()
    assert list((media_root / "uploads").glob("*/*")) == []


@pytest.mark.django_db
def test_without_an_import_folder_no_local_asset_is_read(api, people, settings, tmp_path):
    settings.SCARP_STAC_IMPORT_ROOT = ""
    response = stac_import(api.alice, people.a, item(str(a_cog(tmp_path))))
    assert response.status_code == 400
    assert "SCARP_STAC_IMPORT_ROOT" in response.json()["detail"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_remote_asset_is_not_fetched_while_network_is_off(api, people, settings):
    settings.SCARP_GDAL_ALLOW_NETWORK = False
    with listening() as listener:
        for href in [listener.url("/post.tif"), f"/vsicurl/{listener.url('/post.tif')}"]:
            response = stac_import(api.alice, people.a, item(href))
            assert response.status_code == 400, href
            assert "visual" in response.json()["detail"]
    assert listener.requests == []
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"type": "Catalog", "id": "c"}, "cannot be imported"),
        ({"type": "Feature", "id": "x", "assets": {}}, "no GeoTIFF"),
        ([1, 2], "JSON object"),
    ],
)
def test_a_document_that_is_no_item_is_a_400_that_says_so(api, people, document, words):
    response = stac_import(api.alice, people.a, document)
    assert response.status_code == 400
    assert words in response.json()["detail"]


@pytest.mark.django_db
def test_only_an_admin_imports_and_an_outsider_learns_nothing(api, people, settings, tmp_path):
    settings.SCARP_STAC_IMPORT_ROOT = str(tmp_path)
    a_cog(tmp_path)
    assert stac_import(api.charlie, people.a, item("post.tif")).status_code == 404
    assert stac_import(api.bob, people.a, item("post.tif")).status_code == 403
    assert not Job.objects.exists()
    assert stac_import(api.alice, people.a, item("post.tif")).status_code == 202


@pytest.mark.django_db
def test_an_unreachable_remote_asset_is_a_400_naming_it_and_nothing_is_stored(
    api, people, settings, media_root
):
    settings.SCARP_GDAL_ALLOW_NETWORK = True
    response = stac_import(api.alice, people.a, item("http://127.0.0.1:9/post.tif"))
    assert response.status_code == 400
    assert "could not be fetched from http://127.0.0.1:9/post.tif" in response.json()["detail"]
    assert not Job.objects.exists()
    assert list((media_root / "uploads").glob("*/*")) == []


@pytest.mark.django_db
def test_a_member_without_the_role_makes_the_server_fetch_nothing(api, people, settings):
    """The role is checked before any asset is fetched: an editor gets 403 and no request
    leaves the server; the admin's same import does fetch."""
    settings.SCARP_GDAL_ALLOW_NETWORK = True
    with listening() as listener:
        assert stac_import(api.bob, people.a, item(listener.url("/post.tif"))).status_code == 403
        assert listener.requests == []
        stac_import(api.alice, people.a, item(listener.url("/post.tif")))
        assert listener.requests != []
