"""Imports through the API and the management commands never make GDAL reach out.

Each hostile upload names a listener on 127.0.0.1; the import is refused
with a sentence saying why, no row and no file are left, and the listener
heard nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from inventories.models import Inventory, Job, Landslide, Scene
from tests.conftest import wait_for
from tests.factories.hostile import geojson_with_crs, link_crs, raster_vrt, zipped_shapefile_of_vrt
from tests.factories.listener import listening


@pytest.fixture
def listener():
    with listening() as listener:
        yield listener


def files_left() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()]


def hostile_inventories(tmp_path: Path, url: str) -> dict[str, tuple[Path, str]]:
    """Each hostile inventory file with the words its refusal must contain."""
    return {
        "link crs": (
            geojson_with_crs(tmp_path / "slides.geojson", link_crs(url + "crs")),
            '"crs" member is a link',
        ),
        "vrt shp": (
            zipped_shapefile_of_vrt(tmp_path / "slides.zip", url + "layer.geojson"),
            "'slides.shp' is not a Shapefile .shp",
        ),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["link crs", "vrt shp"])
def test_a_hostile_inventory_upload_fails_its_job_and_fetches_nothing(
    people, api, celery_worker, tmp_path, listener, case
):
    path, words = hostile_inventories(tmp_path, listener.url("/"))[case]
    response = api.bob.post(
        f"/api/projects/{people.a.pk}/inventories/upload/",
        {"file": SimpleUploadedFile(path.name, path.read_bytes()), "name": "hostile"},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job = wait_for(lambda: Job.objects.filter(pk=response.json()["id"], state="failed").first())
    assert words in job.error
    assert not Inventory.objects.filter(name="hostile").exists()
    assert Landslide.objects.count() == 0
    assert [p for p in files_left() if "uploads" in p.parts] == []
    assert listener.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["link crs", "vrt shp"])
def test_the_import_command_refuses_a_hostile_inventory_and_fetches_nothing(
    people, tmp_path, listener, case
):
    path, words = hostile_inventories(tmp_path, listener.url("/"))[case]
    with pytest.raises(CommandError, match=words.replace(".", r"\.")):
        call_command("import_inventory", "Project A", str(path), "--name", "hostile")
    assert Inventory.objects.count() == 0 and Landslide.objects.count() == 0
    assert files_left() == []
    assert listener.requests == []


@pytest.mark.django_db
def test_the_import_command_refuses_hostile_mapped_extents(people, tmp_path, listener):
    good = geojson_with_crs(tmp_path / "good.geojson", None)
    extents = geojson_with_crs(tmp_path / "extents.geojson", link_crs(listener.url("/crs")))
    with pytest.raises(CommandError, match="extents.geojson"):
        call_command(
            "import_inventory", "Project A", str(good), "--name", "x", "--extents", str(extents)
        )
    assert listener.requests == []


@pytest.mark.django_db
def test_a_vrt_uploaded_as_a_scene_is_refused_at_once_and_fetches_nothing(
    people, api, tmp_path, listener
):
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/",
        {"file": SimpleUploadedFile("post.tif", raster_vrt(listener.url("/band.tif")).encode())},
        format="multipart",
    )
    assert response.status_code == 400
    assert "is not a GeoTIFF" in response.json()["detail"]
    assert Job.objects.count() == 0 and Scene.objects.count() == 0
    assert files_left() == []
    assert listener.requests == []


@pytest.mark.django_db
def test_the_scene_command_refuses_a_vrt_and_fetches_nothing(people, tmp_path, listener):
    path = tmp_path / "post.tif"
    path.write_text(raster_vrt(listener.url("/band.tif")))
    with pytest.raises(CommandError, match="post.tif is not a GeoTIFF"):
        call_command("import_scene", "Project A", str(path), "--kind", "dem")
    assert Scene.objects.count() == 0 and files_left() == []
    assert listener.requests == []
