"""A project's area of interest through the API (issue #14, item 4).

The New project form sends the drawn area as GeoJSON; the project keeps it as
a lon/lat MultiPolygon and answers it back. A bad area is a 400 that names
the area of interest, and nothing is created or changed.
"""

from __future__ import annotations

import json

import pytest

from inventories.models import Project
from inventories.services.projects import project_create

pytestmark = pytest.mark.django_db

RECTANGLE = {
    "type": "Polygon",
    "coordinates": [[[98.6, 31.1], [98.7, 31.1], [98.7, 31.2], [98.6, 31.2], [98.6, 31.1]]],
}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[98.6, 31.1], [98.7, 31.2], [98.7, 31.1], [98.6, 31.2], [98.6, 31.1]]],
}
METRES = {  # UTM coordinates sent as if they were degrees
    "type": "Polygon",
    "coordinates": [[[500000, 3440000], [501000, 3440000], [501000, 3441000], [500000, 3440000]]],
}


def test_an_area_drawn_as_a_polygon_is_stored_as_the_projects_multipolygon(api):
    answer = api.alice.post(
        "/api/projects/", {"name": "Gorge 2026", "area_of_interest": RECTANGLE}, format="json"
    )
    assert answer.status_code == 201, answer.content
    project = Project.objects.get(pk=answer.json()["id"])
    assert project.area_of_interest.geom_type == "MultiPolygon"
    assert project.area_of_interest.srid == 4326
    assert project.area_of_interest.extent == pytest.approx((98.6, 31.1, 98.7, 31.2))
    area = answer.json()["area_of_interest"]
    assert area["type"] == "MultiPolygon"
    assert area["coordinates"][0][0][0] == pytest.approx([98.6, 31.1])


def test_a_feature_is_taken_as_its_geometry(api):
    feature = {"type": "Feature", "properties": {}, "geometry": RECTANGLE}
    answer = api.alice.post(
        "/api/projects/", {"name": "From a feature", "area_of_interest": feature}, format="json"
    )
    assert answer.status_code == 201, answer.content
    assert Project.objects.get(pk=answer.json()["id"]).area_of_interest.num_geom == 1


def test_heights_are_dropped_from_the_stored_area(api):
    lifted = {
        "type": "Polygon",
        "coordinates": [[[*xy, 1200.0] for xy in RECTANGLE["coordinates"][0]]],
    }
    answer = api.alice.post(
        "/api/projects/", {"name": "With heights", "area_of_interest": lifted}, format="json"
    )
    assert answer.status_code == 201, answer.content
    assert not Project.objects.get(pk=answer.json()["id"]).area_of_interest.hasz


def test_the_area_is_optional(api):
    answer = api.alice.post("/api/projects/", {"name": "No area yet"}, format="json")
    assert answer.status_code == 201
    assert answer.json()["area_of_interest"] is None
    assert Project.objects.get(pk=answer.json()["id"]).area_of_interest is None


@pytest.mark.parametrize(
    ("area", "words"),
    [
        (BOWTIE, "not a valid polygon"),
        (METRES, "longitude/latitude"),
        ({"type": "Point", "coordinates": [98.6, 31.1]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[98.6, 31.1], [98.7, 31.1]]]}, "not valid GeoJSON"),
        ("a rectangle", "Polygon or MultiPolygon"),
        ({"type": "Polygon"}, "no coordinates"),
        ({"type": "Polygon", "coordinates": [RECTANGLE["coordinates"][0], []]}, "hole"),
    ],
)
def test_a_bad_area_is_refused_naming_the_area_and_nothing_is_made(api, area, words):
    before = Project.objects.count()
    answer = api.alice.post(
        "/api/projects/", {"name": "Bad area", "area_of_interest": area}, format="json"
    )
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith("The area of interest") and words in detail, detail
    assert Project.objects.count() == before


def test_an_admin_redraws_the_area_and_a_bad_one_changes_nothing(api, people):
    url = f"/api/projects/{people.a.pk}/"
    assert api.alice.patch(url, {"area_of_interest": RECTANGLE}, format="json").status_code == 200
    people.a.refresh_from_db()
    kept = people.a.area_of_interest.wkt
    refused = api.alice.patch(url, {"area_of_interest": BOWTIE, "name": "Renamed"}, format="json")
    assert refused.status_code == 400
    people.a.refresh_from_db()
    assert people.a.area_of_interest.wkt == kept and people.a.name == "Project A"
    assert api.alice.patch(url, {"area_of_interest": None}, format="json").status_code == 200
    people.a.refresh_from_db()
    assert people.a.area_of_interest is None


def test_an_annotator_cannot_change_the_area(api, people):
    answer = api.bob.patch(
        f"/api/projects/{people.a.pk}/", {"area_of_interest": RECTANGLE}, format="json"
    )
    assert answer.status_code == 403
    people.a.refresh_from_db()
    assert people.a.area_of_interest is None


def test_a_member_sees_the_area_and_an_outsider_learns_nothing(api, people):
    made = api.alice.post(
        "/api/projects/", {"name": "Alice's gorge", "area_of_interest": RECTANGLE}, format="json"
    ).json()
    project = Project.objects.get(pk=made["id"])
    project.memberships.create(user=people.bob, role="annotator")
    url = f"/api/projects/{project.pk}/"
    seen = api.bob.get(url)
    assert seen.status_code == 200 and seen.json()["area_of_interest"]["type"] == "MultiPolygon"
    hidden = api.charlie.get(url)
    assert hidden.status_code == 404 and "gorge" not in hidden.content.decode()
    assert api.charlie.patch(url, {"area_of_interest": None}, format="json").status_code == 404
    project.refresh_from_db()
    assert project.area_of_interest is not None


def test_the_django_admin_refuses_a_crossed_area_with_the_same_sentence(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="pw-root")
    project = project_create(name="Admin gorge", user=root)
    membership = project.memberships.get()
    client.force_login(root)
    url = f"/admin/inventories/project/{project.pk}/change/"
    form = {
        "name": "Renamed in the admin",
        "trigger": "other",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(membership.pk),
        "memberships-0-project": str(project.pk),
        "memberships-0-user": str(root.pk),
        "memberships-0-role": "admin",
    }

    def multi(polygon: dict) -> str:  # the admin's map sends the field's own type
        return json.dumps({"type": "MultiPolygon", "coordinates": [polygon["coordinates"]]})

    refused = client.post(url, {**form, "area_of_interest": multi(BOWTIE)})
    assert refused.status_code == 200  # the form again, with the error
    assert "The area of interest is not a valid polygon" in refused.content.decode()
    project.refresh_from_db()
    assert project.name == "Admin gorge" and project.area_of_interest is None
    saved = client.post(url, {**form, "area_of_interest": multi(RECTANGLE)})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    project.refresh_from_db()
    assert project.area_of_interest.extent == pytest.approx((98.6, 31.1, 98.7, 31.2))
