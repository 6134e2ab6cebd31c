"""An upload that fails in its import job is named as the user named it, in words to act on."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inventories.models import Inventory, Scene
from inventories.tasks import job_run
from tests.factories.rasters import write_geotiff


def finished(api, response) -> dict:
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    job_run(job_id, worker="test")  # what the worker runs, in this process
    shown = api.get(f"/api/jobs/{job_id}/").json()
    assert shown["state"] == "failed", shown
    return shown


@pytest.mark.django_db
def test_a_truncated_geotiff_is_named_as_uploaded(people, api, tmp_path):
    image = write_geotiff(
        tmp_path / "ortho-2024.tif",
        np.random.default_rng(2).integers(1, 255, size=(3, 400, 400), dtype=np.uint8),
    )
    whole = image.read_bytes()
    cut = SimpleUploadedFile("ortho-2024.tif", whole[: len(whole) // 2])  # header intact
    shown = finished(
        api.alice,
        api.alice.post(
            f"/api/projects/{people.a.pk}/scenes/upload/", {"file": cut}, format="multipart"
        ),
    )
    assert "ortho-2024.tif" in shown["error"], shown["error"]
    assert "upload.tif" not in shown["error"]
    assert "See previous exception" not in shown["error"]
    assert Scene.objects.count() == 0


@pytest.mark.django_db
def test_a_zip_without_a_shapefile_is_named_as_uploaded(people, api):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "the shapefile is on the other laptop")
    shown = finished(
        api.alice,
        api.alice.post(
            f"/api/projects/{people.a.pk}/inventories/upload/",
            {"file": SimpleUploadedFile("field-survey.zip", buffer.getvalue()), "name": "Survey"},
            format="multipart",
        ),
    )
    assert "field-survey.zip" in shown["error"], shown["error"]
    assert "upload.zip" not in shown["error"]
    assert "See previous exception" not in shown["error"]
    assert not Inventory.objects.filter(name="Survey").exists()
