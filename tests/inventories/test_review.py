"""Reviewing a predicted inventory through the API: queue, decisions, history, promotion, kappa.

rita reviews project A, bob only annotates it, alice is its admin; charlie and
dora belong to project B and must learn nothing about A's review.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import Landslide, LandslideChange, ModelVersion, ReviewDecision
from inventories.selectors.review import cohen_kappa
from tests.factories.rows import make_inventory, make_landslide, square

pytestmark = pytest.mark.django_db


@pytest.fixture
def predicted(people):
    model = ModelVersion.objects.create(
        project=people.a, name="unet-1", architecture="unet", metrics={"threshold": 0.6}
    )
    return make_inventory(people.a, "Predicted", kind="predicted", model_version=model)


def geojson(geometry) -> dict:
    return json.loads(geometry.json)


def url(inventory, tail: str) -> str:
    return f"/api/inventories/{inventory.pk}/review/{tail}"


def decide(client, landslide, decision, version=None, **extra):
    body = {"decision": decision, "version": version or landslide.version, **extra}
    return client.post(
        url(landslide.inventory, f"landslides/{landslide.pk}/decide/"), body, format="json"
    )


def test_queue_starts_with_the_polygons_closest_to_the_models_threshold(api, predicted):
    far = make_landslide(predicted, confidence=0.99)
    near = make_landslide(predicted, confidence=0.58)
    mid = make_landslide(predicted, confidence=0.3)
    unknown = make_landslide(predicted, confidence=None)

    body = api.rita.get(url(predicted, "queue/")).json()

    assert body["threshold"] == 0.6
    assert [f["id"] for f in body["results"]] == [near.pk, mid.pk, far.pk, unknown.pk]
    assert body["progress"]["total"] == 4 and body["progress"]["decided"] == 0


def test_a_token_client_gets_specks_last_as_the_page_does_and_zero_turns_that_off(api, predicted):
    """The queue puts specks last for every client, not only for the page that asks."""
    speck = make_landslide(predicted, confidence=0.6, area_m2=2.0)  # the most uncertain
    slide = make_landslide(predicted, confidence=0.9)

    default = api.rita.get(url(predicted, "queue/")).json()
    assert [f["id"] for f in default["results"]] == [slide.pk, speck.pk]
    plain = api.rita.get(url(predicted, "queue/?specks_below=0")).json()
    assert [f["id"] for f in plain["results"]] == [speck.pk, slide.pk]


def test_queue_filters_by_state_and_size_and_orders_by_location(api, predicted):
    east = make_landslide(predicted, geometry=square(lon=98.70), area_m2=500.0)
    west = make_landslide(predicted, geometry=square(lon=98.60), area_m2=500.0)
    make_landslide(predicted, geometry=square(lon=98.65), area_m2=5.0)
    make_landslide(predicted, review_state="rejected", area_m2=500.0)

    body = api.rita.get(url(predicted, "queue/?order=location&state=none&min_area=100")).json()

    assert [f["id"] for f in body["results"]] == [west.pk, east.pk]


def test_accepting_makes_a_new_version_with_who_and_when(api, people, predicted):
    landslide = make_landslide(predicted, confidence=0.7)

    response = decide(api.rita, landslide, "accepted")

    assert response.status_code == 200, response.json()
    landslide.refresh_from_db()
    assert (landslide.review_state, landslide.version) == ("accepted", 2)
    change = LandslideChange.objects.get(landslide_pk=landslide.pk, version=2)
    assert change.user == people.rita and change.data["review_state"] == "accepted"
    decision = ReviewDecision.objects.get(landslide=landslide)
    assert (decision.reviewer, decision.decision, decision.version) == (people.rita, "accepted", 2)
    assert response.json()["progress"]["accepted"] == 1


def test_an_edit_decision_stores_the_corrected_outline(api, predicted):
    landslide = make_landslide(predicted)
    outline = Polygon.from_bbox((98.68, 31.14, 98.6805, 31.1405))

    response = decide(api.rita, landslide, "edited", geometry=geojson(outline))

    assert response.status_code == 200, response.json()
    landslide.refresh_from_db()
    assert landslide.review_state == "edited"
    assert landslide.geometry.equals(MultiPolygon(outline))


def test_an_annotator_cannot_approve(api, predicted):
    landslide = make_landslide(predicted)

    response = decide(api.bob, landslide, "accepted")

    assert response.status_code == 403
    landslide.refresh_from_db()
    assert (landslide.review_state, landslide.version) == ("none", 1)


def test_a_reviewer_of_another_project_sees_nothing(api, people, predicted):
    landslide = make_landslide(predicted)
    # dora is admin of project B, so any role check would pass if scoping leaked.
    for client in (api.dora, api.charlie):
        assert client.get(url(predicted, "queue/")).status_code == 404
        assert client.get(url(predicted, "dashboard/")).status_code == 404
        assert decide(client, landslide, "accepted").status_code == 404
        history = client.get(url(predicted, f"landslides/{landslide.pk}/history/"))
        assert history.status_code == 404
        assert "Predicted" not in history.content.decode()
        assert client.post(url(predicted, "promote/"), {"name": "x"}).status_code == 404
    landslide.refresh_from_db()
    assert landslide.review_state == "none"


def test_a_stale_decision_gets_409_with_the_current_state(api, predicted):
    landslide = make_landslide(predicted)
    assert decide(api.rita, landslide, "rejected").status_code == 200

    response = decide(api.alice, landslide, "accepted", version=1)

    assert response.status_code == 409
    body = response.json()
    assert "rita" in body["detail"]
    assert body["current"]["properties"]["version"] == 2
    assert body["current"]["properties"]["review_state"] == "rejected"


def test_an_approved_polygon_is_immutable_until_reopened(api, predicted):
    landslide = make_landslide(predicted)
    decide(api.rita, landslide, "accepted")

    refused = decide(api.alice, landslide, "rejected", version=2)
    assert refused.status_code == 409
    assert "reopen" in refused.json()["detail"]

    reopen = api.alice.post(
        url(predicted, f"landslides/{landslide.pk}/reopen/"), {"version": 2}, format="json"
    )
    assert reopen.status_code == 200
    assert decide(api.alice, landslide, "rejected", version=3).status_code == 200
    landslide.refresh_from_db()
    assert (landslide.review_state, landslide.version) == ("rejected", 4)
    current = ReviewDecision.objects.filter(landslide=landslide, current=True)
    assert [d.decision for d in current] == ["rejected"]


def test_revert_restores_an_old_outline_as_a_new_version(api, predicted):
    original = square()
    landslide = make_landslide(predicted, geometry=original)
    LandslideChange.objects.create(
        landslide=landslide,
        landslide_pk=landslide.pk,
        inventory=predicted,
        action="create",
        version=1,
        geometry=original,
        data={"review_state": "none"},
    )
    outline = Polygon.from_bbox((98.68, 31.14, 98.6803, 31.1403))
    decide(api.rita, landslide, "rejected")
    api.rita.post(
        url(predicted, f"landslides/{landslide.pk}/reopen/"), {"version": 2}, format="json"
    )
    landslide.refresh_from_db()
    assert landslide.version == 3

    response = api.rita.post(
        url(predicted, f"landslides/{landslide.pk}/revert/"),
        {"to_version": 1, "version": 3},
        format="json",
    )

    assert response.status_code == 200, response.json()
    landslide.refresh_from_db()
    assert landslide.version == 4
    assert landslide.geometry.equals(original) and not landslide.geometry.equals(outline)
    history = api.rita.get(url(predicted, f"landslides/{landslide.pk}/history/")).json()
    assert [v["version"] for v in history["versions"]] == [1, 2, 3, 4]


def test_promotion_copies_approved_polygons_with_provenance(api, people, predicted):
    accepted = make_landslide(predicted, confidence=0.9)
    edited = make_landslide(predicted, confidence=0.7)
    rejected = make_landslide(predicted, confidence=0.61)
    make_landslide(predicted, confidence=0.2)  # never decided
    decide(api.rita, accepted, "accepted")
    decide(api.rita, edited, "edited", geometry=geojson(square(size=0.0005)))
    decide(api.rita, rejected, "rejected")

    response = api.rita.post(url(predicted, "promote/"), {"name": "Reviewed"}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["promoted"] == 2
    reference = people.a.inventories.get(name="Reviewed")
    assert reference.kind == "reference"
    copies = {c.attributes["source_landslide"]: c for c in reference.landslides.all()}
    assert set(copies) == {accepted.pk, edited.pk}
    provenance = copies[edited.pk].attributes
    assert provenance["source_inventory"] == predicted.pk
    assert provenance["model_version_name"] == "unet-1"
    assert provenance["reviewer"] == "rita" and provenance["decided_at"]
    assert provenance["review_state"] == "edited"
    assert LandslideChange.objects.filter(inventory=reference, action="create").count() == 2

    again = api.rita.post(url(predicted, "promote/"), {"reference": reference.pk}, format="json")
    assert again.json()["promoted"] == 0


def test_promotion_is_all_or_nothing(api, people, predicted):
    make_landslide(predicted, review_state="accepted")
    metres = MultiPolygon(Polygon.from_bbox((500000, 3450000, 500100, 3450100)), srid=4326)
    broken = make_landslide(predicted, geometry=metres, review_state="accepted")
    reference = make_inventory(people.a, "Reference")

    response = api.rita.post(url(predicted, "promote/"), {"reference": reference.pk}, format="json")

    assert response.status_code == 400
    assert f"Landslide {broken.pk} cannot be promoted" in response.json()["detail"]
    assert not reference.landslides.exists()
    named = api.rita.post(url(predicted, "promote/"), {"name": "New"}, format="json")
    assert named.status_code == 400
    assert not people.a.inventories.filter(name="New").exists()


def test_kappa_matches_a_hand_computed_case():
    # 10 polygons: both keep 4, both reject 3, first keeps/second rejects 2, the reverse 1.
    pairs = [("k", "k")] * 4 + [("r", "r")] * 3 + [("k", "r")] * 2 + [("r", "k")]
    # po = 0.7; first keeps 6/10, second keeps 5/10; pe = 0.6*0.5 + 0.4*0.5 = 0.5
    assert cohen_kappa(pairs) == pytest.approx((0.7 - 0.5) / (1 - 0.5))
    assert cohen_kappa([("k", "k")] * 3) is None
    assert cohen_kappa([]) is None


def test_second_review_agreement_and_admin_resolution(api, people, django_user_model, predicted):
    from inventories.models import Membership

    vera = django_user_model.objects.create_user("vera")
    Membership.objects.create(project=people.a, user=vera, role="reviewer")
    from tests.conftest import client_for

    vera_api = client_for(vera)
    rows = [make_landslide(predicted) for _ in range(4)]
    for row, first, second in zip(
        rows,
        ["accepted", "rejected", "edited", "accepted"],
        ["accepted", "rejected", "accepted", "rejected"],
        strict=True,
    ):
        geometry = geojson(square(size=0.0005)[0]) if first == "edited" else None
        extra = {"geometry": geometry} if geometry else {}
        assert decide(api.rita, row, first, **extra).status_code == 200
        row.refresh_from_db()
        assert decide(vera_api, row, second, round=2).status_code == 200
    assert decide(api.rita, rows[0], "accepted", version=2, round=2).status_code == 403

    agreement = api.alice.get(url(predicted, "dashboard/")).json()["agreement"]
    # po = 3/4; first keeps 3/4, second keeps 2/4; pe = 3/4*2/4 + 1/4*2/4 = 1/2
    assert agreement["kappa"] == pytest.approx(0.5)
    assert agreement["disagreements"] == [rows[3].pk]

    assert (
        api.rita.post(
            url(predicted, f"landslides/{rows[3].pk}/resolve/"),
            {"decision": "rejected", "version": 2},
            format="json",
        ).status_code
        == 403
    )
    resolved = api.alice.post(
        url(predicted, f"landslides/{rows[3].pk}/resolve/"),
        {"decision": "rejected", "version": 2},
        format="json",
    )
    assert resolved.status_code == 200
    rows[3].refresh_from_db()
    assert rows[3].review_state == "rejected"
    agreement = api.alice.get(url(predicted, "dashboard/")).json()["agreement"]
    assert agreement["disagreements"] == [] and agreement["resolved"] == [rows[3].pk]


def test_admin_splits_work_by_count_and_by_area(api, people, predicted):
    rows = [make_landslide(predicted, geometry=square(lon=98.60 + i * 0.01)) for i in range(5)]

    response = api.alice.post(
        url(predicted, "assignments/"),
        {"reviewers": ["rita", "alice"], "by": "count"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    shares = {a["reviewer"]: a["landslides"] for a in response.json()}
    assert shares == {"rita": [r.pk for r in rows[:3]], "alice": [r.pk for r in rows[3:]]}
    mine = api.rita.get(url(predicted, "queue/?assigned_to=me&order=location")).json()
    assert [f["id"] for f in mine["results"]] == [r.pk for r in rows[:3]]

    by_area = api.alice.post(
        url(predicted, "assignments/"),
        {"reviewers": ["rita", "alice"], "by": "area"},
        format="json",
    )
    areas = {a["reviewer"]: a for a in by_area.json()}
    assert sum(len(a["landslides"]) for a in areas.values()) == 5
    assert areas["rita"]["area"] is not None

    assert (
        api.rita.post(
            url(predicted, "assignments/"), {"reviewers": ["rita"]}, format="json"
        ).status_code
        == 403
    )
    refused = api.alice.post(url(predicted, "assignments/"), {"reviewers": ["bob"]}, format="json")
    assert refused.status_code == 400 and "bob is not a reviewer" in refused.json()["detail"]


def test_dashboard_measures_precision_and_rates_per_reviewer(api, predicted):
    rows = [make_landslide(predicted) for _ in range(5)]
    decide(api.rita, rows[0], "accepted")
    decide(api.rita, rows[1], "rejected")
    decide(api.alice, rows[2], "edited", geometry=geojson(square(size=0.0005)[0]))
    decide(api.alice, rows[3], "accepted")

    body = api.bob.get(url(predicted, "dashboard/")).json()

    assert body["progress"]["decided"] == 4 and body["progress"]["fraction"] == 0.8
    assert body["precision"] == pytest.approx(3 / 4)
    per = {r["reviewer"]: r for r in body["reviewers"]}
    assert per["rita"]["accept_rate"] == 0.5 and per["rita"]["reject_rate"] == 0.5
    assert per["alice"]["accept_rate"] == 1.0
    assert Landslide.objects.filter(review_state="none").count() == 1


def test_review_pages_open_for_members_and_are_404_for_outsiders(client, people, predicted):
    make_landslide(predicted, review_state="accepted")
    page = f"/projects/{people.a.pk}/inventories/{predicted.pk}/review/"
    client.force_login(people.rita)
    assert client.get(page).status_code == 200
    dashboard = client.get(page + "dashboard/")
    assert dashboard.status_code == 200 and b"precision" in dashboard.content
    client.force_login(people.dora)
    assert client.get(page).status_code == 404
    assert client.get(page + "dashboard/").status_code == 404
