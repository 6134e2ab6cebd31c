"""A version whose training failed or was cancelled can be deleted, by an admin, with its files.

`model_version_delete` owns the rule (issue #14, item 3): only failed or
cancelled versions, only by a project admin; a ready or training version is
refused with a message naming it, and nothing changes. The models page
offers it as Delete (POST /api/models/{id}/discard/) and a training
version's job as Cancel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inventories.errors import InvalidInput, NotAllowed
from inventories.models import Job, ModelVersion, Project
from inventories.services.deletion import model_version_delete
from inventories.services.jobs import job_cancel
from tests.factories.imported import import_generated_place
from tests.inventories.test_deletion import files_under
from tests.inventories.test_training import start

pytestmark = pytest.mark.django_db


def version_in(project: Project, root: Path, status: str, name: str = "unet-1") -> ModelVersion:
    """A version in `status` with the files a training leaves in its directory."""
    version = ModelVersion.objects.create(
        project=project, name=name, architecture="unet", status=status
    )
    version.directory = f"models/{version.pk}"
    version.save()
    folder = root / version.directory
    folder.mkdir(parents=True)
    for file in ("last.pt", "config.json", "metrics.json"):
        (folder / file).write_bytes(b"x")
    return version


def discard(client, version: ModelVersion):
    return client.post(f"/api/models/{version.pk}/discard/")


# The service's rule.


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_an_admin_deletes_a_failed_or_cancelled_version_and_its_files_on_commit(
    people, media_root, status, django_capture_on_commit_callbacks
):
    version = version_in(people.a, media_root, status)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        model_version_delete(version=version, user=people.alice)
        assert not ModelVersion.objects.filter(pk=version.pk).exists()
        assert len(files_under(media_root)) == 3  # the files wait for the commit
    for callback in callbacks:
        callback()
    assert files_under(media_root) == []


@pytest.mark.parametrize(
    ("status", "advice"),
    [("ready", "only a failed or cancelled version"), ("training", "cancel its training first")],
)
def test_a_ready_or_training_version_is_refused_by_name_and_kept(
    people, media_root, status, advice
):
    version = version_in(people.a, media_root, status, name="Slopes v2")
    with pytest.raises(InvalidInput) as refused:
        model_version_delete(version=version, user=people.alice)
    assert refused.value.message.startswith(f"Slopes v2 is {status}; ")
    assert advice in refused.value.message
    assert ModelVersion.objects.filter(pk=version.pk, status=status).exists()
    assert len(files_under(media_root)) == 3


@pytest.mark.parametrize("who", ["bob", "rita", "dora"])
def test_only_an_admin_of_its_project_may_delete_it(people, media_root, who):
    """An annotator and a reviewer of the project, and an admin of another, are refused."""
    version = version_in(people.a, media_root, "failed")
    with pytest.raises(NotAllowed):
        model_version_delete(version=version, user=getattr(people, who))
    assert ModelVersion.objects.filter(pk=version.pk).exists()
    assert len(files_under(media_root)) == 3


def test_a_version_whose_queued_training_was_cancelled_can_be_deleted(people, media_root, tmp_path):
    """The real path to "cancelled": a training queued, then cancelled before it started."""
    places = import_generated_place(people.a, tmp_path / "data", size=128)
    job = start(people.a, places, people.alice)
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    with pytest.raises(InvalidInput, match="tiny is training; cancel its training first"):
        model_version_delete(version=version, user=people.alice)

    job_cancel(job=job, user=people.alice)
    version.refresh_from_db()
    assert version.status == "cancelled"
    model_version_delete(version=version, user=people.alice)
    assert not ModelVersion.objects.filter(pk=version.pk).exists()
    assert Job.objects.get(pk=job.pk).state == "cancelled"  # the job's row stays as history


# The API route the models page calls.


def test_the_discard_route_hides_the_version_from_outsiders_and_lets_its_admin_delete_it(
    api, people, media_root, django_capture_on_commit_callbacks
):
    version = version_in(people.a, media_root, "failed")
    assert discard(api.charlie, version).status_code == 404
    assert discard(api.dora, version).status_code == 404  # an admin, of another project
    refused = discard(api.bob, version)
    assert refused.status_code == 403
    assert "does not allow" in refused.json()["detail"]
    assert ModelVersion.objects.filter(pk=version.pk).exists()
    assert api.bob.get(f"/api/models/{version.pk}/").status_code == 200  # he does see it

    with django_capture_on_commit_callbacks(execute=True):
        assert discard(api.alice, version).status_code == 204

    assert not ModelVersion.objects.filter(pk=version.pk).exists()
    assert files_under(media_root) == []
    assert discard(api.alice, version).status_code == 404


def test_the_discard_route_refuses_a_ready_version_by_name(api, people, media_root):
    version = version_in(people.a, media_root, "ready", name="Slopes v2")
    answer = discard(api.alice, version)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("Slopes v2 is ready; ")
    assert ModelVersion.objects.filter(pk=version.pk, status="ready").exists()
    assert len(files_under(media_root)) == 3


# What the models page offers.


def test_the_models_page_offers_cancel_and_delete_to_an_admin_only(
    client, people, media_root, tmp_path
):
    places = import_generated_place(people.a, tmp_path / "data", size=128)
    job = start(people.a, places, people.alice)
    training = ModelVersion.objects.get(pk=job.params["model_version"])
    failed = version_in(people.a, media_root, "failed", name="<b>bold</b> run")
    ready = version_in(people.a, media_root, "ready", name="good run")
    url = f"/projects/{people.a.pk}/models/"

    client.force_login(people.alice)
    html = client.get(url).content.decode()
    row = {v.pk: _row(html, v.pk) for v in (training, failed, ready)}
    assert f'class="cancel secondary" data-job="{job.pk}"' in row[training.pk]
    assert 'button class="delete' not in row[training.pk]
    assert f'class="delete secondary" data-version="{failed.pk}"' in row[failed.pk]
    assert "&lt;b&gt;bold&lt;/b&gt; run" in row[failed.pk] and "<b>bold" not in html
    assert 'button class="cancel' not in row[failed.pk]
    assert 'button class="cancel' not in row[ready.pk]
    assert 'button class="delete' not in row[ready.pk]

    client.force_login(people.bob)
    html = client.get(url).content.decode()
    assert 'class="cancel' not in html and 'class="delete' not in html

    client.force_login(people.charlie)
    assert client.get(url).status_code == 404


def _row(html: str, pk: int) -> str:
    start = html.index(f'<tr data-version="{pk}">')
    return html[start : html.index("</tr>", start)]
