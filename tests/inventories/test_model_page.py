"""The model page tells what a model learnt from in figures that are right, in words."""

from __future__ import annotations

import pytest

from inventories.models import Inventory, Job, ModelVersion
from inventories.services.inventories import inventory_import
from tests.factories.imported import import_generated_place
from tests.factories.landslide_scenes import make_scene


@pytest.fixture
def queued_version(people, api, tmp_path) -> tuple[int, dict[str, int]]:
    """A model asked for through the API on two imported inventories; its id and their counts."""
    places = import_generated_place(people.a, tmp_path / "data", size=256)
    second = make_scene(tmp_path / "more", size=256, seed=7)
    inventory_import(project=people.a, path=second.landslides, name="Second survey")
    counts = {
        inv.name: inv.landslides.count() for inv in Inventory.objects.filter(project=people.a)
    }
    assert all(n > 1 for n in counts.values()), counts  # one landslide would hide the bug
    response = api.alice.post(
        "/api/models/",
        {
            "project": people.a.pk,
            "name": "first try",
            "places": places,
            "arch": "unet",
            "encoder": "none",
            "hyperparameters": {"epochs": 3, "lr": 0.003, "early_stopping_patience": None},
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    return Job.objects.get(pk=response.json()["id"]).params["model_version"], counts


@pytest.mark.django_db
def test_the_training_snapshot_counts_each_inventorys_landslides_once(people, api, queued_version):
    version_pk, counts = queued_version
    shown = api.alice.get(f"/api/models/{version_pk}/").json()
    assert {i["name"]: i["landslides"] for i in shown["data_snapshot"]["inventories"]} == counts


@pytest.mark.django_db
def test_the_model_page_shows_configuration_and_training_data_as_tables(
    people, client, queued_version
):
    version_pk, counts = queued_version
    client.force_login(people.bob)
    page = client.get(f"/projects/{people.a.pk}/models/{version_pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<th scope="row">Epochs</th><td>3</td>' in html
    assert '<th scope="row">Learning rate</th><td>0.003</td>' in html
    assert '<th scope="row">Early stopping patience</th><td>—</td>' in html
    assert '"epochs"' not in html and '"inventories"' not in html  # no raw JSON
    for name, n in counts.items():
        assert f"<td>{name}</td><td>{n}</td>" in html
    assert "1 train, 1 validation" in html


@pytest.mark.django_db
def test_an_outsider_gets_404_on_the_model_page(people, client, queued_version):
    version_pk, _ = queued_version
    client.force_login(people.charlie)
    assert client.get(f"/projects/{people.a.pk}/models/{version_pk}/").status_code == 404


@pytest.mark.django_db
def test_a_ready_model_page_offers_onnx_even_before_its_directory_is_known(people, client):
    """A ready version with no directory recorded (made by hand or by an old release): the page
    offers the ONNX download as a job instead of failing to look for a file."""
    version = ModelVersion.objects.create(
        project=people.a, name="by hand", architecture="unet", encoder="none", status="ready"
    )
    client.force_login(people.bob)
    page = client.get(f"/projects/{people.a.pk}/models/{version.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-export="ONNX" data-background' in html
