"""Exporting an inventory through the URLs the project page links to.

Small inventories stream at once; one over SCARP_EXPORT_SYNC_MAX_POLYGONS
becomes a job whose file is downloaded from the job when it is ready.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pyogrio
import pytest

from inventories.models import Job
from inventories.tasks import job_run
from tests.factories.rows import make_inventory, make_landslide, square

pytestmark = pytest.mark.django_db


@pytest.fixture
def inventory(people):
    inventory = make_inventory(people.a, "Field 2018", source_crs="EPSG:32647")
    for i in range(3):
        make_landslide(
            inventory,
            geometry=square(lon=98.68 + i * 0.01),
            landslide_type="slide",
            attributes={"code": f"L{i}"},
        )
    return inventory


def read(body: bytes, suffix: str, tmp_path: Path):
    """Open a downloaded file with GDAL (pyogrio), as a GIS user would."""
    path = tmp_path / f"download{suffix}"
    path.write_bytes(body)
    if suffix == ".zip":
        assert any(n.endswith(".shp") for n in zipfile.ZipFile(io.BytesIO(body)).namelist())
        return pyogrio.read_dataframe(f"/vsizip/{path}")
    return pyogrio.read_dataframe(path)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def page_links(client, user, project) -> dict[str, str]:
    client.force_login(user)
    html = client.get(f"/projects/{project.pk}/").content.decode()
    links = re.findall(r'href="(/api/inventories/\d+/export/[^"]*)"[^>]*>([^<]+)<', html)
    return {label.strip(): href.replace("&amp;", "&") for href, label in links}


@pytest.mark.parametrize(
    ("label", "suffix", "epsg"),
    [("GeoJSON", ".geojson", 4326), ("GeoPackage", ".gpkg", 32647), ("Shapefile", ".zip", 32647)],
)
def test_each_export_link_of_the_project_page_gives_its_format(
    client, people, inventory, tmp_path, label, suffix, epsg
):
    href = page_links(client, people.bob, people.a)[label]

    response = client.get(href)

    assert response.status_code == 200, response.content
    assert response["Content-Disposition"].endswith(f'{suffix}"')
    frame = read(body_of(response), suffix, tmp_path)
    assert len(frame) == 3
    assert sorted(frame["code"]) == ["L0", "L1", "L2"]
    kind = "landslide_type" if suffix != ".zip" else "landslide_"  # dBase cuts names to 10
    assert set(frame[kind]) == {"slide"}
    assert frame.crs.to_epsg() == epsg


def test_the_bare_export_url_still_gives_geojson(api, inventory, tmp_path):
    response = api.bob.get(f"/api/inventories/{inventory.pk}/export/")
    assert response.status_code == 200
    assert len(read(body_of(response), ".geojson", tmp_path)) == 3


def test_an_outsider_gets_404_on_the_export_url_a_member_gets_200(api, inventory):
    url = f"/api/inventories/{inventory.pk}/export/?as=gpkg"
    assert api.charlie.get(url).status_code == 404
    assert api.bob.get(url).status_code == 200


def test_a_bad_crs_is_a_400_that_names_it(api, inventory):
    response = api.bob.get(f"/api/inventories/{inventory.pk}/export/?as=gpkg&crs=EPSG:999999")
    assert response.status_code == 400
    assert "EPSG:999999" in response.json()["detail"]
    unknown = api.bob.get(f"/api/inventories/{inventory.pk}/export/?as=dxf")
    assert unknown.status_code == 400
    assert "dxf" in unknown.json()["detail"]


def test_a_large_export_is_a_job_with_progress_and_a_download(api, inventory, settings, tmp_path):
    settings.SCARP_EXPORT_SYNC_MAX_POLYGONS = 2
    url = f"/api/inventories/{inventory.pk}/export/?as=gpkg&crs=EPSG:4326"

    response = api.bob.get(url)

    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response.json()["kind"] == "export_inventory"
    assert api.bob.get(url).json()["id"] == job_id  # a second click follows the same job
    job_run(job_id, worker="test")
    job = api.bob.get(f"/api/jobs/{job_id}/").json()
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"] == 1.0
    download = job["result"]["download"]
    assert download == f"/api/jobs/{job_id}/download/"
    assert api.charlie.get(download).status_code == 404
    file = api.bob.get(download)
    assert file.status_code == 200
    assert file["Content-Disposition"].endswith('.gpkg"')
    frame = read(body_of(file), ".gpkg", tmp_path)
    assert len(frame) == 3 and frame.crs.to_epsg() == 4326
    assert (Path(settings.MEDIA_ROOT) / job["result"]["file"]).is_file()


def test_a_large_export_with_a_bad_crs_is_refused_before_a_job(api, inventory, settings):
    settings.SCARP_EXPORT_SYNC_MAX_POLYGONS = 2
    response = api.bob.get(f"/api/inventories/{inventory.pk}/export/?crs=nonsense")
    assert response.status_code == 400
    assert "nonsense" in response.json()["detail"]
    assert not Job.objects.exists()


def test_an_export_job_of_a_deleted_inventory_fails_with_a_sentence(api, inventory, settings):
    settings.SCARP_EXPORT_SYNC_MAX_POLYGONS = 2
    job_id = api.bob.get(f"/api/inventories/{inventory.pk}/export/").json()["id"]
    inventory.delete()
    job_run(job_id, worker="test")
    job = Job.objects.get(pk=job_id)
    assert job.state == "failed"
    assert "deleted" in job.error
    assert not list(Path(settings.MEDIA_ROOT).rglob("*.geojson"))
