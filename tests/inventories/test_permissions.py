"""The role matrix: an outsider learns nothing; roles limit what members change."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inventories.models import Inventory, Landslide, MappedExtent, Membership, Scene
from tests.factories.rows import (
    make_extent,
    make_inventory,
    make_job,
    make_landslide,
    make_scene,
)

POLYGON = {
    "type": "Polygon",
    "coordinates": [[[98.68, 31.14], [98.681, 31.14], [98.681, 31.141], [98.68, 31.14]]],
}


@pytest.fixture
def world(people):
    """Objects of project A that charlie (project B) must never see."""
    inventory = make_inventory(people.a, "A manual")
    return type(
        "World",
        (),
        {
            "scene": make_scene(people.a),
            "inventory": inventory,
            "landslide": make_landslide(inventory),
            "extent": make_extent(inventory),
            "job": make_job(people.a),
            "membership": Membership.objects.get(project=people.a, user=people.bob),
            "b_inventory": make_inventory(people.b, "B manual"),
        },
    )


def reads(people, world) -> list[str]:
    a = people.a.pk
    return [
        f"/api/projects/{a}/",
        f"/api/projects/{a}/members/",
        f"/api/projects/{a}/members/{world.membership.pk}/",
        f"/api/scenes/{world.scene.pk}/",
        f"/api/inventories/{world.inventory.pk}/",
        f"/api/inventories/{world.inventory.pk}/export/?format=geojson",
        f"/api/inventories/{world.inventory.pk}/landslides/",
        f"/api/inventories/{world.inventory.pk}/extents/",
        f"/api/landslides/{world.landslide.pk}/",
        f"/api/landslides/{world.landslide.pk}/history/",
        f"/api/extents/{world.extent.pk}/",
        f"/api/jobs/{world.job.pk}/",
    ]


@pytest.mark.django_db
def test_an_outsider_gets_404_for_every_object_of_another_project(people, api, world):
    for url in reads(people, world):
        response = api.charlie.get(url)
        assert response.status_code == 404, url
        assert "Project A" not in response.content.decode(), url


@pytest.mark.django_db
def test_an_outsider_lists_nothing_of_another_project_and_counts_reveal_nothing(people, api, world):
    for url, own in [
        ("/api/projects/", 1),
        ("/api/scenes/", 0),
        ("/api/inventories/", 1),
        ("/api/landslides/", 0),
        ("/api/extents/", 0),
        ("/api/jobs/", 0),
    ]:
        body = api.charlie.get(url).json()
        assert body.get("count", len(body.get("results", body))) == own, url
    filtered = api.charlie.get(f"/api/jobs/?project={people.a.pk}").json()
    assert filtered["count"] == 0


@pytest.mark.django_db
def test_an_outsider_cannot_change_anything_of_another_project(people, api, world):
    a = people.a.pk
    charlie = api.charlie
    attempts = [
        charlie.patch(f"/api/projects/{a}/", {"name": "hacked"}, format="json"),
        charlie.delete(f"/api/projects/{a}/"),
        charlie.post(f"/api/projects/{a}/members/", {"username": "charlie", "role": "admin"}),
        charlie.delete(f"/api/projects/{a}/members/{world.membership.pk}/"),
        charlie.delete(f"/api/scenes/{world.scene.pk}/"),
        charlie.post(
            f"/api/projects/{a}/scenes/upload/",
            {"file": SimpleUploadedFile("x.tif", b"II*\x00")},
            format="multipart",
        ),
        charlie.post(
            f"/api/projects/{a}/inventories/upload/",
            {"file": SimpleUploadedFile("x.geojson", b"{}"), "name": "x"},
            format="multipart",
        ),
        charlie.patch(f"/api/inventories/{world.inventory.pk}/", {"name": "x"}, format="json"),
        charlie.delete(f"/api/inventories/{world.inventory.pk}/"),
        charlie.post(
            f"/api/inventories/{world.inventory.pk}/landslides/",
            {"geometry": POLYGON},
            format="json",
        ),
        charlie.patch(
            f"/api/landslides/{world.landslide.pk}/", {"version": 1, "notes": "x"}, format="json"
        ),
        charlie.delete(f"/api/landslides/{world.landslide.pk}/?version=1"),
        charlie.post(
            f"/api/inventories/{world.inventory.pk}/extents/", {"geometry": POLYGON}, format="json"
        ),
        charlie.patch(f"/api/extents/{world.extent.pk}/", {"version": 1}, format="json"),
        charlie.delete(f"/api/extents/{world.extent.pk}/?version=1"),
        charlie.post(f"/api/jobs/{world.job.pk}/cancel/"),
    ]
    for response in attempts:
        assert response.status_code == 404, (response.request["PATH_INFO"], response.content)
    assert Membership.objects.filter(project=people.a, user=people.charlie).count() == 0
    world.landslide.refresh_from_db()
    assert world.landslide.version == 1 and world.landslide.notes == ""
    assert Landslide.objects.filter(inventory=world.inventory).count() == 1
    assert MappedExtent.objects.filter(inventory=world.inventory).count() == 1
    assert Scene.objects.filter(project=people.a).count() == 1
    people.a.refresh_from_db()
    assert people.a.name == "Project A"


@pytest.mark.django_db
def test_creating_an_inventory_in_a_foreign_project_looks_like_an_unknown_project(
    people, api, world
):
    foreign = api.charlie.post("/api/inventories/", {"project": people.a.pk, "name": "x"})
    unknown = api.charlie.post("/api/inventories/", {"project": 999_999, "name": "x"})
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json()["project"][0].replace(str(people.a.pk), "N") == unknown.json()["project"][
        0
    ].replace("999999", "N")
    assert not Inventory.objects.filter(name="x").exists()


@pytest.mark.django_db
def test_an_annotator_edits_landslides_but_cannot_manage_the_project(people, api, world):
    a = people.a.pk
    bob = api.bob
    created = bob.post(
        f"/api/inventories/{world.inventory.pk}/landslides/", {"geometry": POLYGON}, format="json"
    )
    assert created.status_code == 201
    forbidden = [
        bob.patch(f"/api/projects/{a}/", {"name": "renamed"}, format="json"),
        bob.post(f"/api/projects/{a}/members/", {"username": "charlie", "role": "annotator"}),
        bob.delete(f"/api/scenes/{world.scene.pk}/"),
        bob.delete(f"/api/inventories/{world.inventory.pk}/"),
        bob.post(
            f"/api/projects/{a}/scenes/upload/",
            {"file": SimpleUploadedFile("x.tif", b"II*\x00")},
            format="multipart",
        ),
        bob.post(f"/api/jobs/{world.job.pk}/cancel/"),
    ]
    for response in forbidden:
        assert response.status_code == 403, (response.request["PATH_INFO"], response.content)
        assert "does not allow" in response.json()["detail"]
    assert Scene.objects.filter(project=people.a).count() == 1
    assert Inventory.objects.filter(pk=world.inventory.pk).exists()


@pytest.mark.django_db
def test_an_admin_manages_members_and_cannot_remove_the_last_admin(people, api, world):
    a = people.a.pk
    added = api.alice.post(
        f"/api/projects/{a}/members/", {"username": "charlie", "role": "reviewer"}
    )
    assert added.status_code == 201
    assert api.charlie.get(f"/api/projects/{a}/").status_code == 200
    alice_membership = Membership.objects.get(project=people.a, user=people.alice)
    refused = api.alice.delete(f"/api/projects/{a}/members/{alice_membership.pk}/")
    assert refused.status_code == 400
    assert "last admin" in refused.json()["detail"]


@pytest.mark.django_db
def test_anonymous_requests_are_refused(client, people):
    assert client.get("/api/projects/").status_code in (401, 403)
    assert client.get(f"/projects/{people.a.pk}/").status_code == 302
