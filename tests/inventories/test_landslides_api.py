"""Drawing, editing and deleting landslides through the API, with versions and history."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import Landslide, LandslideChange
from tests.factories.rows import make_inventory, make_landslide, square

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[98.68, 31.14], [98.681, 31.14], [98.681, 31.141], [98.68, 31.141], [98.68, 31.14]]
    ],
}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[98.68, 31.14], [98.681, 31.141], [98.681, 31.14], [98.68, 31.141], [98.68, 31.14]]
    ],
}


@pytest.fixture
def inventory(people):
    return make_inventory(people.a, "A manual")


@pytest.mark.django_db
def test_a_drawn_polygon_is_stored_with_its_geodesic_area_and_a_history_entry(api, inventory):
    response = api.bob.post(
        f"/api/inventories/{inventory.pk}/landslides/",
        {"geometry": SQUARE, "landslide_type": "slide", "notes": "fresh scar"},
        format="json",
    )
    assert response.status_code == 201, response.content
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["properties"]["version"] == 1
    # 0.001 deg x 0.001 deg at 31.14 N: about 111 m x 95 m.
    assert feature["properties"]["area_m2"] == pytest.approx(
        110_900 * 0.001 * 95_300 * 0.001, rel=0.02
    )
    landslide = Landslide.objects.get(pk=feature["id"])
    assert landslide.created_by.username == "bob"
    assert landslide.geometry.coords[0][0][0] == pytest.approx((98.68, 31.14))
    assert LandslideChange.objects.filter(landslide_pk=landslide.pk, action="create").exists()


@pytest.mark.django_db
def test_an_update_with_the_current_version_raises_the_version(api, inventory):
    landslide = make_landslide(inventory)
    moved = dict(SQUARE, coordinates=[[[x + 0.0005, y] for x, y in SQUARE["coordinates"][0]]])
    response = api.bob.patch(
        f"/api/landslides/{landslide.pk}/",
        {"version": 1, "geometry": moved, "certainty": "probable"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["properties"]["version"] == 2
    landslide.refresh_from_db()
    assert landslide.certainty == "probable"
    assert landslide.geometry.extent[0] == pytest.approx(98.6805)


@pytest.mark.django_db
def test_a_stale_version_gets_409_with_the_current_state_and_changes_nothing(api, inventory):
    landslide = make_landslide(inventory)
    first = api.bob.patch(
        f"/api/landslides/{landslide.pk}/", {"version": 1, "notes": "bob's"}, format="json"
    )
    assert first.status_code == 200
    second = api.rita.patch(
        f"/api/landslides/{landslide.pk}/", {"version": 1, "notes": "rita's"}, format="json"
    )
    assert second.status_code == 409
    body = second.json()
    assert "changed by someone else" in body["detail"]
    assert body["current"]["properties"]["version"] == 2
    assert body["current"]["properties"]["notes"] == "bob's"
    landslide.refresh_from_db()
    assert landslide.notes == "bob's" and landslide.version == 2


@pytest.mark.django_db
def test_an_update_without_a_version_is_refused(api, inventory):
    landslide = make_landslide(inventory)
    response = api.bob.patch(f"/api/landslides/{landslide.pk}/", {"notes": "x"}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()["detail"]


@pytest.mark.django_db
def test_delete_needs_the_current_version_and_keeps_the_history(api, inventory):
    landslide = make_landslide(inventory)
    stale = api.bob.delete(f"/api/landslides/{landslide.pk}/?version=7")
    assert stale.status_code == 409
    assert Landslide.objects.filter(pk=landslide.pk).exists()
    ok = api.bob.delete(f"/api/landslides/{landslide.pk}/?version=1")
    assert ok.status_code == 204
    assert not Landslide.objects.filter(pk=landslide.pk).exists()
    deleted = LandslideChange.objects.get(landslide_pk=landslide.pk, action="delete")
    assert deleted.geometry is not None and deleted.user.username == "bob"


@pytest.mark.django_db
def test_history_lists_every_version(api, inventory):
    created = api.bob.post(
        f"/api/inventories/{inventory.pk}/landslides/", {"geometry": SQUARE}, format="json"
    ).json()
    api.rita.patch(f"/api/landslides/{created['id']}/", {"version": 1, "notes": "a"}, format="json")
    history = api.bob.get(f"/api/landslides/{created['id']}/history/").json()
    assert [(h["version"], h["action"], h["user"]) for h in history] == [
        (1, "create", "bob"),
        (2, "update", "rita"),
    ]


@pytest.mark.django_db
def test_a_self_intersecting_polygon_is_repaired_and_flagged(api, inventory):
    response = api.bob.post(
        f"/api/inventories/{inventory.pk}/landslides/", {"geometry": BOWTIE}, format="json"
    )
    assert response.status_code == 201, response.content
    props = response.json()["properties"]
    assert props["repaired"] is True
    assert props["area_m2"] > 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "geometry, message",
    [
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "Polygon"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[500000, 3450000], [500100, 3450000], [500100, 3450100], [500000, 3450000]]
                ],
            },
            "longitude/latitude",
        ),
        ({"type": "Polygon", "coordinates": "nonsense"}, "not valid GeoJSON"),
    ],
    ids=["line", "metres", "garbage"],
)
def test_bad_geometries_are_refused_with_the_reason(api, inventory, geometry, message):
    response = api.bob.post(
        f"/api/inventories/{inventory.pk}/landslides/", {"geometry": geometry}, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not inventory.landslides.exists()


@pytest.mark.django_db
def test_bbox_returns_only_landslides_in_view_and_pages_are_bounded(api, inventory):
    for i in range(12):
        make_landslide(inventory, geometry=square(lon=98.0 + i * 0.1))
    url = f"/api/inventories/{inventory.pk}/landslides/"
    in_view = api.bob.get(url, {"bbox": "97.95,31.0,98.25,31.3"}).json()
    assert in_view["type"] == "FeatureCollection"
    assert in_view["count"] == 3
    page = api.bob.get(url, {"page_size": 5}).json()
    assert len(page["features"]) == 5 and page["count"] == 12 and page["next"]
    bad = api.bob.get(url, {"bbox": "1,2,3"})
    assert bad.status_code == 400 and "four numbers" in bad.json()["detail"]


@pytest.mark.django_db
def test_a_bbox_lists_the_polygons_that_meet_it_to_members_only(api, inventory):
    """The map's side list asks for this: what the view holds, not what its box only grazes."""
    inside = make_landslide(inventory, geometry=square(lon=98.60, lat=31.10))
    across = make_landslide(inventory, geometry=square(lon=98.6095, lat=31.105, size=0.002))
    make_landslide(inventory, geometry=square(lon=98.70, lat=31.10))  # east of the box
    # A thin diagonal strip whose bounding box covers the box's corner, its outline well clear.
    strip = Polygon(
        (
            (98.605, 31.125),
            (98.625, 31.105),
            (98.6252, 31.1052),
            (98.6052, 31.1252),
            (98.605, 31.125),
        )
    )
    make_landslide(inventory, geometry=MultiPolygon(strip, srid=4326))
    url = f"/api/inventories/{inventory.pk}/landslides/"
    box = {"bbox": "98.59,31.09,98.61,31.11"}

    listed = api.bob.get(url, box)
    assert listed.status_code == 200
    assert [f["id"] for f in listed.json()["features"]] == [inside.pk, across.pk]
    assert listed.json()["count"] == 2

    outsider = api.charlie.get(url, box)
    assert outsider.status_code == 404
    assert "features" not in outsider.json()

    for bad in ("98.59,31.09,98.61", "west,31.09,98.61,31.11", "98.61,31.09,98.59,31.11"):
        refused = api.bob.get(url, {"bbox": bad})
        assert refused.status_code == 400
        assert f"bbox '{bad}'" in refused.json()["detail"]


@pytest.mark.django_db
def test_mapped_extents_are_drawn_with_a_split_and_versioned(api, inventory):
    url = f"/api/inventories/{inventory.pk}/extents/"
    created = api.bob.post(url, {"geometry": SQUARE, "split": "validation"}, format="json")
    assert created.status_code == 201, created.content
    extent_id = created.json()["id"]
    changed = api.bob.patch(
        f"/api/extents/{extent_id}/", {"version": 1, "split": "test"}, format="json"
    )
    assert changed.json()["properties"]["split"] == "test"
    stale = api.rita.patch(
        f"/api/extents/{extent_id}/", {"version": 1, "split": "train"}, format="json"
    )
    assert stale.status_code == 409
    listed = api.bob.get(url).json()
    assert [f["properties"]["split"] for f in listed["features"]] == ["test"]


@pytest.mark.django_db
def test_an_approved_landslide_is_frozen_for_the_editor(api, inventory):
    landslide = make_landslide(inventory, review_state="accepted")
    moved = api.bob.patch(
        f"/api/landslides/{landslide.pk}/", {"version": 1, "notes": "moved"}, format="json"
    )
    assert moved.status_code == 409 and "reopen" in moved.json()["detail"]
    deleted = api.bob.delete(f"/api/landslides/{landslide.pk}/?version=1")
    assert deleted.status_code == 409
    landslide.refresh_from_db()
    assert landslide.notes == "" and landslide.version == 1


@pytest.mark.django_db
def test_the_editor_cannot_set_a_review_state(api, inventory):
    landslide = make_landslide(inventory)
    api.bob.patch(
        f"/api/landslides/{landslide.pk}/",
        {"version": 1, "review_state": "accepted"},
        format="json",
    )
    landslide.refresh_from_db()
    assert landslide.review_state == "none"
