"""Merging landslides through the API: one union, one kept id, history for every piece."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import Inventory, Landslide, LandslideChange
from inventories.services.landslides import area_m2
from tests.factories.rows import make_inventory, make_landslide

MERGE = "/api/landslides/merge/"


def box(west: float, south: float, east: float, north: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((west, south, east, north)), srid=4326)


def piece(inventory, geometry: MultiPolygon, **fields) -> Landslide:
    return make_landslide(inventory, geometry=geometry, area_m2=area_m2(geometry), **fields)


def body(*landslides: Landslide) -> dict:
    return {"landslides": [{"id": ls.pk, "version": ls.version} for ls in landslides]}


@pytest.fixture
def inventory(people):
    return make_inventory(people.a, "A manual")


@pytest.mark.django_db
def test_two_touching_landslides_become_their_union_in_the_larger_one(api, inventory):
    small = piece(inventory, box(98.680, 31.14, 98.681, 31.141), notes="west part")
    large = piece(inventory, box(98.681, 31.14, 98.683, 31.141), notes="east part")
    response = api.bob.post(MERGE, body(small, large), format="json")
    assert response.status_code == 200, response.content
    feature = response.json()
    assert feature["id"] == large.pk
    assert feature["properties"]["version"] == 2
    assert feature["properties"]["notes"] == "east part"
    merged = Landslide.objects.get(pk=large.pk)
    assert merged.geometry.num_geom == 1  # they touch: one polygon
    assert merged.geometry.area == pytest.approx(0.003 * 0.001, rel=1e-6)
    assert merged.area_m2 == pytest.approx(area_m2(box(98.680, 31.14, 98.683, 31.141)), rel=1e-6)
    assert not Landslide.objects.filter(pk=small.pk).exists()
    # The merged-away one is still found, with its outline, through the history URL.
    gone = api.bob.get(f"/api/landslides/{small.pk}/history/")
    assert gone.status_code == 200
    last = gone.json()[-1]
    assert (last["action"], last["version"], last["data"]["merged_into"]) == ("delete", 2, large.pk)
    assert last["data"]["notes"] == "west part"
    assert last["geometry"]["coordinates"][0][0][0] == pytest.approx([98.68, 31.14])
    kept = api.bob.get(f"/api/landslides/{large.pk}/history/").json()[-1]
    assert (kept["action"], kept["version"], kept["data"]["merged_from"]) == (
        "update",
        2,
        [small.pk],
    )


@pytest.mark.django_db
def test_landslides_apart_become_one_multipolygon(api, inventory):
    a = piece(inventory, box(98.680, 31.14, 98.681, 31.141))
    b = piece(inventory, box(98.690, 31.14, 98.692, 31.141))
    c = piece(inventory, box(98.700, 31.14, 98.701, 31.141))
    assert api.bob.post(MERGE, body(a, b, c), format="json").status_code == 200
    (merged,) = Landslide.objects.filter(inventory=inventory)
    assert merged.pk == b.pk  # the largest is kept
    assert merged.geometry.num_geom == 3
    assert merged.geometry.area == pytest.approx(0.004 * 0.001, rel=1e-6)
    assert LandslideChange.objects.filter(action="delete", data__merged_into=b.pk).count() == 2


@pytest.mark.django_db
def test_a_stale_version_gets_409_with_the_current_state_and_merges_nothing(api, inventory):
    a = piece(inventory, box(98.680, 31.14, 98.681, 31.141))
    b = piece(inventory, box(98.681, 31.14, 98.682, 31.141))
    api.rita.patch(f"/api/landslides/{b.pk}/", {"version": 1, "notes": "rita's"}, format="json")
    response = api.bob.post(MERGE, body(a, b), format="json")
    assert response.status_code == 409
    assert f"Landslide {b.pk} was changed by someone else" in response.json()["detail"]
    assert response.json()["current"]["properties"]["notes"] == "rita's"
    assert Landslide.objects.filter(inventory=inventory).count() == 2
    assert Landslide.objects.get(pk=a.pk).version == 1
    assert not LandslideChange.objects.filter(data__has_key="merged_into").exists()


@pytest.mark.django_db
def test_landslides_of_two_inventories_or_one_alone_are_refused(api, people, inventory):
    other = make_inventory(people.a, "Another")
    a = piece(inventory, box(98.680, 31.14, 98.681, 31.141))
    b = piece(other, box(98.681, 31.14, 98.682, 31.141))
    response = api.bob.post(MERGE, body(a, b), format="json")
    assert response.status_code == 400
    assert "one inventory" in response.json()["detail"]
    alone = api.bob.post(MERGE, body(a), format="json")
    assert alone.status_code == 400
    assert "two or more" in alone.json()["detail"]
    assert Landslide.objects.count() == 2


@pytest.mark.django_db
def test_an_outsider_gets_404_where_a_member_merges(api, inventory):
    a = piece(inventory, box(98.680, 31.14, 98.681, 31.141))
    b = piece(inventory, box(98.681, 31.14, 98.682, 31.141))
    outsider = api.charlie.post(MERGE, body(a, b), format="json")
    assert outsider.status_code == 404
    assert "A manual" not in outsider.content.decode()
    assert api.charlie.get(f"/api/landslides/{a.pk}/history/").status_code == 404
    assert Landslide.objects.filter(inventory=inventory).count() == 2
    assert api.bob.post(MERGE, body(a, b), format="json").status_code == 200
    assert api.bob.get(f"/api/landslides/{b.pk}/history/").status_code == 200
    assert api.charlie.get(f"/api/landslides/{b.pk}/history/").status_code == 404


@pytest.mark.django_db
def test_an_approved_prediction_is_frozen_and_an_open_one_merges(api, people):
    predicted = make_inventory(people.a, "Predicted", kind=Inventory.Kind.PREDICTED)
    a = piece(predicted, box(98.680, 31.14, 98.681, 31.141), review_state="accepted")
    b = piece(predicted, box(98.681, 31.14, 98.682, 31.141))
    c = piece(predicted, box(98.682, 31.14, 98.683, 31.141))
    frozen = api.bob.post(MERGE, body(a, b), format="json")
    assert frozen.status_code == 409
    assert "approved in review" in frozen.json()["detail"]
    assert Landslide.objects.filter(inventory=predicted).count() == 3
    assert api.bob.post(MERGE, body(b, c), format="json").status_code == 200
    assert Landslide.objects.filter(inventory=predicted).count() == 2


@pytest.mark.django_db
def test_the_merge_is_in_the_openapi_schema(api):
    paths = api.bob.get("/api/schema/?format=json").json()["paths"]
    assert "post" in paths["/api/landslides/merge/"]
