"""A delete in the Django admin removes what a delete in the app removes, or nothing.

The admin deleted rows with `QuerySet.delete()`: COGs, model directories and
report folders stayed on disk, a landslide's delete left no trace in its
history, a project was deleted under its running job, and a job's delete left
its export file, staging folder and upload. Each test clicks
the admin's own delete (the object's delete page, or the list's "Delete
selected" action) as a site administrator, and looks at the rows and files.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from inventories.models import (
    AccuracyReport,
    Inventory,
    Job,
    Landslide,
    LandslideChange,
    ModelVersion,
    Project,
    Scene,
)
from tests.factories.rows import make_job
from tests.inventories.test_deletion import (
    files_under,
    finished_export,
    import_dem,
    model_with_files,
    queued_import,
)
from tests.inventories.test_reports import make_world, run_here

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_admin(client, django_user_model):
    """The operator of the server: staff and superuser, a member of no project."""
    root = django_user_model.objects.create_superuser("root", password="pw-root")
    client.force_login(root)
    return client


def delete_page(model: str, pk: int) -> str:
    return f"/admin/inventories/{model}/{pk}/delete/"


def test_deleting_a_project_in_the_admin_removes_all_of_its_files(
    site_admin, client, api, people, media_root, tmp_path, settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    import_dem(people.a, tmp_path)
    model_with_files(people.a, media_root)
    world = make_world(people.a)
    run_here(api.alice, world)
    finished_export(api.bob, world.reference, settings)
    import_dem(people.b, tmp_path)
    assert site_admin.get(delete_page("project", people.a.pk)).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        answer = site_admin.post(delete_page("project", people.a.pk), {"post": "yes"})
    assert answer.status_code == 302

    assert not Project.objects.filter(pk=people.a.pk).exists()
    assert files_under(media_root) == sorted(s.file for s in Scene.objects.filter(project=people.b))
    assert LogEntry.objects.filter(object_id=str(people.a.pk)).exists()


def test_a_project_member_who_is_not_staff_cannot_delete_in_the_admin(
    client, people, media_root, tmp_path
):
    import_dem(people.a, tmp_path)
    client.force_login(people.alice)  # the project's admin, but not the server's
    answer = client.post(delete_page("project", people.a.pk), {"post": "yes"})
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]
    assert Project.objects.filter(pk=people.a.pk).exists()
    assert len(files_under(media_root)) == 3


def test_the_admin_refuses_to_delete_a_project_whose_job_runs_and_says_why(
    site_admin, people, media_root, tmp_path
):
    import_dem(people.a, tmp_path)
    Job.objects.create(project=people.a, kind="report", state="running")

    answer = site_admin.post(delete_page("project", people.a.pk), {"post": "yes"}, follow=True)

    assert answer.status_code == 200
    assert "Not deleted: Project A has jobs running" in answer.content.decode()
    assert answer.redirect_chain[-1][0] == f"/admin/inventories/project/{people.a.pk}/change/"
    assert Project.objects.filter(pk=people.a.pk).exists()
    assert Scene.objects.filter(project=people.a).count() == 3
    assert len(files_under(media_root)) == 3
    assert not LogEntry.objects.exists()  # the refused delete is not logged as done


def test_deleting_scenes_with_the_admin_list_action_removes_their_cogs(
    site_admin, people, media_root, tmp_path, django_capture_on_commit_callbacks
):
    dem = import_dem(people.a, tmp_path)
    kept = import_dem(people.b, tmp_path)
    body = {"action": "delete_selected", "_selected_action": [dem.pk], "post": "yes"}

    with django_capture_on_commit_callbacks(execute=True):
        answer = site_admin.post("/admin/inventories/scene/", body)
    assert answer.status_code == 302

    assert list(Scene.objects.filter(project=people.a)) == []
    assert files_under(media_root) == sorted(
        s.file for s in Scene.objects.filter(source=kept) | Scene.objects.filter(pk=kept.pk)
    )


def test_the_list_action_deletes_none_when_one_is_refused(site_admin, people, media_root):
    idle = model_with_files(people.a, media_root)
    busy = ModelVersion.objects.create(
        project=people.a, name="unet-2", architecture="unet", status="training"
    )
    Job.objects.create(
        project=people.a, kind="train", state="running", params={"model_version": busy.pk}
    )
    body = {"action": "delete_selected", "_selected_action": [idle.pk, busy.pk], "post": "yes"}

    answer = site_admin.post("/admin/inventories/modelversion/", body, follow=True)

    assert "Nothing was deleted: unet-2 is in use" in answer.content.decode()
    assert ModelVersion.objects.count() == 2
    assert len(files_under(media_root)) == 5


def test_deleting_a_model_version_in_the_admin_removes_its_directory(
    site_admin, people, media_root, django_capture_on_commit_callbacks
):
    version = model_with_files(people.a, media_root)

    with django_capture_on_commit_callbacks(execute=True):
        answer = site_admin.post(delete_page("modelversion", version.pk), {"post": "yes"})
    assert answer.status_code == 302

    assert not ModelVersion.objects.exists()
    assert files_under(media_root) == []


def test_deleting_an_inventory_or_a_report_in_the_admin_removes_their_folders(
    site_admin, api, people, media_root, django_capture_on_commit_callbacks
):
    world = make_world(people.a)
    first = run_here(api.alice, world)
    second = run_here(api.alice, make_world(people.a, predicted_name="Model v2 output"))
    assert len({p.split("/")[1] for p in files_under(media_root)}) == 2  # two report folders

    with django_capture_on_commit_callbacks(execute=True):
        answer = site_admin.post(delete_page("accuracyreport", second.pk), {"post": "yes"})
    assert answer.status_code == 302
    assert {p.split("/")[1] for p in files_under(media_root)} == {first.directory.split("/")[1]}

    with django_capture_on_commit_callbacks(execute=True):
        answer = site_admin.post(delete_page("inventory", world.predicted.pk), {"post": "yes"})
    assert answer.status_code == 302
    assert not Inventory.objects.filter(pk=world.predicted.pk).exists()
    assert not AccuracyReport.objects.exists()
    assert files_under(media_root) == []


def test_a_landslide_deleted_in_the_admin_is_kept_in_its_history(site_admin, people):
    world = make_world(people.a)
    landslide = world.pred[0]

    answer = site_admin.post(delete_page("landslide", landslide.pk), {"post": "yes"})
    assert answer.status_code == 302

    assert not Landslide.objects.filter(pk=landslide.pk).exists()
    change = LandslideChange.objects.get(landslide_pk=landslide.pk, action="delete")
    assert change.user.username == "root"


def test_deleting_jobs_in_the_admin_removes_their_files(
    site_admin, api, people, media_root, settings, django_capture_on_commit_callbacks
):
    world = make_world(people.a)
    export = finished_export(api.bob, world.reference, settings)
    others = [p for p in files_under(media_root) if not p.startswith(f"exports/{export.pk}/")]
    assert len(others) < len(files_under(media_root))  # the export's file is there
    assert site_admin.get(delete_page("job", export.pk)).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        answer = site_admin.post(delete_page("job", export.pk), {"post": "yes"})
    assert answer.status_code == 302

    assert not Job.objects.filter(pk=export.pk).exists()
    assert files_under(media_root) == others
    assert Inventory.objects.filter(pk=world.reference.pk).exists()  # what it exported stays
    assert LogEntry.objects.filter(object_id=str(export.pk)).exists()


def test_deleting_queued_jobs_in_the_admin_cancels_them_first(
    site_admin, api, people, media_root, django_capture_on_commit_callbacks
):
    """A queued import's upload goes; a queued training's version ends cancelled, not training."""
    imported = queued_import(api.bob, people.a)
    assert any(p.startswith("uploads/") for p in files_under(media_root))
    version = ModelVersion.objects.create(
        project=people.a, name="unet-2", architecture="unet", status="training"
    )
    training = make_job(people.a, kind="train", params={"model_version": version.pk})
    body = {"action": "delete_selected", "_selected_action": [imported.pk, training.pk]}

    with django_capture_on_commit_callbacks(execute=True):
        answer = site_admin.post("/admin/inventories/job/", {**body, "post": "yes"})
    assert answer.status_code == 302

    assert not Job.objects.exists()
    assert files_under(media_root) == []
    version.refresh_from_db()
    assert version.status == "cancelled"


def test_the_admin_refuses_to_delete_a_running_job_and_says_why(
    site_admin, people, media_root, django_capture_on_commit_callbacks
):
    job = make_job(people.a, kind="report", state="running", lease="holder")
    staging = media_root / "jobs" / str(job.pk) / "staging-holder.txt"
    staging.parent.mkdir(parents=True)
    staging.write_text("reports/being-written/report.json\n")

    with django_capture_on_commit_callbacks(execute=True):
        answer = site_admin.post(delete_page("job", job.pk), {"post": "yes"}, follow=True)

    assert answer.status_code == 200
    assert (
        f"Not deleted: Accuracy report #{job.pk} is running; cancel it and wait until it ends"
        in answer.content.decode()
    )
    assert answer.redirect_chain[-1][0] == f"/admin/inventories/job/{job.pk}/change/"
    job.refresh_from_db()
    assert job.state == "running" and not job.cancel_requested
    assert files_under(media_root) == [f"jobs/{job.pk}/staging-holder.txt"]
    assert not LogEntry.objects.exists()


def test_a_project_admin_who_is_not_staff_cannot_delete_a_job_in_the_admin(
    client, api, people, media_root, settings
):
    export = finished_export(api.bob, make_world(people.a).reference, settings)
    before = files_under(media_root)
    client.force_login(people.alice)  # may manage project A's jobs in the app, not the server

    answer = client.post(delete_page("job", export.pk), {"post": "yes"})

    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]
    assert Job.objects.filter(pk=export.pk).exists()
    assert files_under(media_root) == before
