"""A delete through the API removes the row's files once it commits; nothing is left behind.

Each test fills MEDIA_ROOT the way the app does (imports, a report job, an
export job, a model directory), deletes one thing as its user would, and
looks at what is left on disk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inventories.models import AccuracyReport, Inventory, Job, ModelVersion, Project, Scene
from inventories.services.scenes import scene_import
from inventories.tasks import job_run
from tests.factories.rasters import write_geotiff
from tests.inventories.test_reports import make_world, run_here

pytestmark = pytest.mark.django_db

GEOJSON = (
    b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
    b' "geometry": {"type": "Polygon", "coordinates": [[[98.68, 31.14], [98.681, 31.14],'
    b" [98.681, 31.141], [98.68, 31.14]]]}}]}"
)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def import_dem(project: Project, tmp_path: Path) -> Scene:
    """A real DEM import: its COG plus derived slope and hillshade COGs."""
    dem = np.linspace(100, 300, 64 * 64, dtype="float32").reshape(64, 64)
    return scene_import(
        project=project, source=write_geotiff(tmp_path / "dem.tif", dem), kind="dem"
    )[0]


def model_with_files(project: Project, root: Path) -> ModelVersion:
    """A ready version with the files training leaves in its directory."""
    version = ModelVersion.objects.create(
        project=project, name="unet-1", architecture="unet", status="ready"
    )
    version.directory = f"models/{version.pk}"
    version.save()
    folder = root / version.directory
    folder.mkdir(parents=True)
    for name in ("best.pt", "best.pt.sha256", "last.pt", "config.json", "metrics.json"):
        (folder / name).write_bytes(b"x")
    return version


def queued_import(client, project: Project) -> Job:
    upload = SimpleUploadedFile("slides.geojson", GEOJSON)
    answer = client.post(
        f"/api/projects/{project.pk}/inventories/upload/",
        {"file": upload, "name": "Later"},
        format="multipart",
    )
    assert answer.status_code == 202, answer.content
    return Job.objects.get(pk=answer.json()["id"])


def finished_export(client, inventory: Inventory, settings) -> Job:
    settings.SCARP_EXPORT_SYNC_MAX_POLYGONS = 0
    job_id = client.get(f"/api/inventories/{inventory.pk}/export/?as=gpkg").json()["id"]
    job_run(job_id, worker="test")
    job = Job.objects.get(pk=job_id)
    assert job.state == "succeeded", job.error
    return job


def test_deleting_a_scene_removes_its_cog_and_derived_cogs(
    api, people, media_root, tmp_path, django_capture_on_commit_callbacks
):
    dem = import_dem(people.a, tmp_path)
    assert len(files_under(media_root)) == 3
    assert api.charlie.delete(f"/api/scenes/{dem.pk}/").status_code == 404
    assert api.bob.delete(f"/api/scenes/{dem.pk}/").status_code in (403, 404)
    assert len(files_under(media_root)) == 3

    with django_capture_on_commit_callbacks(execute=True):
        assert api.alice.delete(f"/api/scenes/{dem.pk}/").status_code == 204

    assert files_under(media_root) == []
    assert not Scene.objects.exists()


def test_deleting_a_model_removes_its_directory(
    api, people, media_root, django_capture_on_commit_callbacks
):
    version = model_with_files(people.a, media_root)
    assert api.charlie.delete(f"/api/models/{version.pk}/").status_code == 404
    assert api.bob.delete(f"/api/models/{version.pk}/").status_code in (403, 404)
    assert api.bob.get(f"/api/models/{version.pk}/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert api.alice.delete(f"/api/models/{version.pk}/").status_code == 204

    assert files_under(media_root) == []
    assert not ModelVersion.objects.exists()


def test_a_training_model_is_not_deleted_under_its_job(api, people, media_root):
    version = model_with_files(people.a, media_root)
    version.status = "training"
    version.save()
    Job.objects.create(
        project=people.a, kind="train", state="running", params={"model_version": version.pk}
    )
    answer = api.alice.delete(f"/api/models/{version.pk}/")
    assert answer.status_code == 400
    assert "unet-1" in answer.json()["detail"]
    assert len(files_under(media_root)) == 5


def test_deleting_a_report_removes_its_folder(
    api, people, media_root, django_capture_on_commit_callbacks
):
    report = run_here(api.alice, make_world(people.a))
    assert files_under(media_root / "reports")

    with django_capture_on_commit_callbacks(execute=True):
        assert api.alice.delete(f"/api/reports/{report.pk}/").status_code == 204

    assert files_under(media_root) == []


def test_deleting_an_inventory_removes_its_reports_and_exports(
    api, people, media_root, settings, django_capture_on_commit_callbacks
):
    world = make_world(people.a)
    report = run_here(api.alice, world)
    export = finished_export(api.bob, world.predicted, settings)
    kept = finished_export(api.bob, world.reference, settings)
    assert api.charlie.delete(f"/api/inventories/{world.predicted.pk}/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.alice.delete(f"/api/inventories/{world.predicted.pk}/")
    assert answer.status_code == 204

    assert not AccuracyReport.objects.filter(pk=report.pk).exists()
    assert files_under(media_root) == [kept.result["file"]]
    assert api.bob.get(export.result["download"]).status_code == 404


def test_deleting_a_project_removes_all_of_its_files(
    api, people, media_root, tmp_path, settings, django_capture_on_commit_callbacks
):
    import_dem(people.a, tmp_path)
    model_with_files(people.a, media_root)
    world = make_world(people.a)
    run_here(api.alice, world)
    finished_export(api.bob, world.reference, settings)
    queued_import(api.bob, people.a)
    import_dem(people.b, tmp_path)
    assert api.charlie.delete(f"/api/projects/{people.a.pk}/").status_code == 404
    assert api.bob.delete(f"/api/projects/{people.a.pk}/").status_code in (403, 404)

    with django_capture_on_commit_callbacks(execute=True):
        assert api.alice.delete(f"/api/projects/{people.a.pk}/").status_code == 204

    assert not Project.objects.filter(pk=people.a.pk).exists()
    assert files_under(media_root) == sorted(s.file for s in Scene.objects.filter(project=people.b))
    assert Scene.objects.filter(project=people.b).count() == 3


def test_cancelling_a_queued_import_removes_its_upload(
    api, people, media_root, django_capture_on_commit_callbacks
):
    job = queued_import(api.bob, people.a)
    assert files_under(media_root) == [job.params["upload"]]

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.bob.post(f"/api/jobs/{job.pk}/cancel/")
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"

    assert files_under(media_root) == []
