"""Merging selected polygons and going to a polygon by id, in the map editor in Chromium.

What counts is what the database holds after the clicks (one landslide with
the union, the other gone with its history) and where the map is.
"""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import Inventory, Landslide, LandslideChange, Membership, Role
from inventories.services.landslides import area_m2
from tests.browser.test_editor import lonlat, map_url, pixel, project, ready, saved, select
from tests.conftest import wait_for
from tests.factories.rows import make_inventory, make_landslide

__all__ = ["project"]  # the fixture, shared with the editor's tests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def square_at(page, inventory, left: float, top: float, size: float = 120) -> Landslide:
    """A landslide covering the map pixels (left, top) .. (left + size, top + size)."""
    (west, north), (east, south) = lonlat(page, left, top), lonlat(page, left + size, top + size)
    geometry = MultiPolygon(Polygon.from_bbox((west, south, east, north)), srid=4326)
    return make_landslide(inventory, geometry=geometry, area_m2=area_m2(geometry))


def shift_click(page, landslide: Landslide) -> None:
    centre = landslide.geometry.centroid
    page.keyboard.down("Shift")
    page.mouse.click(*pixel(page, centre.x, centre.y))
    page.keyboard.up("Shift")


def test_two_adjacent_polygons_selected_with_shift_click_merge_into_their_union(
    open_page, people, project
):
    inventory = project.inventories.get()
    page = open_page(people.bob, map_url(project))
    ready(page)
    west = square_at(page, inventory, 380, 220)
    east = square_at(page, inventory, 500, 220, size=150)  # shares west's east edge; larger
    union = west.geometry.union(east.geometry)
    page.reload()
    ready(page)
    select(page, west)
    shift_click(page, east)
    page.wait_for_function("scarp.editor.extra.length === 1")
    assert "2 landslides selected" in page.locator("#mode").inner_text()
    page.get_by_role("button", name="Merge").click()

    wait_for(lambda: Landslide.objects.filter(inventory=inventory).count() == 1)
    merged = Landslide.objects.get(inventory=inventory)
    assert merged.pk == east.pk and merged.version == 2
    assert merged.geometry.num_geom == 1  # they touch: one polygon
    assert merged.geometry.area == pytest.approx(union.area, rel=1e-6)
    assert merged.area_m2 == pytest.approx(west.area_m2 + east.area_m2, rel=1e-4)
    assert not Landslide.objects.filter(pk=west.pk).exists()
    gone = LandslideChange.objects.get(landslide_pk=west.pk, action="delete")
    assert gone.data["merged_into"] == east.pk
    assert gone.geometry.equals(west.geometry)
    page.wait_for_function(f"scarp.editor.selected && scarp.editor.selected.id === {east.pk}")
    assert f"into landslide {east.pk}" in page.locator("#message").inner_text()

    # Undo brings the merged-away outline back (as a new landslide) and shrinks the kept one.
    page.locator("#map").focus()
    page.keyboard.press("Control+z")
    wait_for(lambda: Landslide.objects.filter(inventory=inventory).count() == 2)
    wait_for(lambda: Landslide.objects.filter(pk=east.pk, version=3).exists())
    saved(page)
    assert Landslide.objects.get(pk=east.pk).geometry.equals(east.geometry)
    back = Landslide.objects.exclude(pk=east.pk).get(inventory=inventory)
    assert back.geometry.area == pytest.approx(west.geometry.area, rel=1e-6)
    assert page.errors == []


def test_merge_with_one_polygon_selected_says_how_and_changes_nothing(open_page, people, project):
    inventory = project.inventories.get()
    page = open_page(people.bob, map_url(project))
    ready(page)
    only = square_at(page, inventory, 420, 220)
    page.reload()
    ready(page)
    select(page, only)
    page.keyboard.press("j")
    assert "shift-click the others" in page.locator("#message").inner_text()
    assert Landslide.objects.get(pk=only.pk).version == 1


def test_an_approved_prediction_is_not_merged_and_the_status_line_says_why(
    open_page, people, project
):
    """Merging follows the edit rules: a polygon accepted in review is frozen."""
    predicted = make_inventory(project, "Model run", kind=Inventory.Kind.PREDICTED)
    page = open_page(people.bob, map_url(project))
    ready(page)
    page.select_option("#inventory", str(predicted.pk))
    accepted = square_at(page, predicted, 380, 220)
    accepted.review_state = Landslide.Review.ACCEPTED
    accepted.save()
    open_one = square_at(page, predicted, 500, 220)
    page.reload()
    ready(page)
    assert page.locator("#inventory").input_value() == str(predicted.pk)
    select(page, open_one)
    shift_click(page, accepted)
    page.wait_for_function("scarp.editor.extra.length === 1")
    page.get_by_role("button", name="Merge").click()
    page.wait_for_function(
        "document.getElementById('message').textContent.includes('approved in review')"
    )
    assert page.locator("#message").inner_text().startswith("Not merged:")
    assert Landslide.objects.filter(inventory=predicted).count() == 2
    assert [ls.version for ls in Landslide.objects.filter(inventory=predicted)] == [1, 1]
    assert page.errors == []


def map_view(page) -> list:
    return page.evaluate(
        "() => { const c = scarp.map.getCenter(); return [c.lat, c.lng, scarp.map.getZoom()]; }"
    )


def contains(page, landslide: Landslide) -> bool:
    west, south, east, north = landslide.geometry.extent
    return page.evaluate(
        "([w, s, e, n]) => scarp.map.getBounds().contains(L.latLngBounds([s, w], [n, e]))",
        [west, south, east, north],
    )


def test_go_to_an_id_fits_the_map_to_that_polygon_and_selects_it(open_page, people, project):
    inventory = project.inventories.get()
    page = open_page(people.bob, map_url(project))
    ready(page)
    far = square_at(page, inventory, 2600, 1900, size=40)  # well outside the view
    assert not contains(page, far)
    page.keyboard.press("g")  # focuses the box
    page.keyboard.type(str(far.pk))
    page.keyboard.press("Enter")
    page.wait_for_function(f"scarp.editor.selected && scarp.editor.selected.id === {far.pk}")
    assert contains(page, far)
    assert page.locator("#attr-title").inner_text() == f"Landslide {far.pk}"
    assert f"Landslide #{far.pk}" in page.locator("#message").inner_text()
    assert page.errors == []


def test_an_unknown_id_or_another_projects_says_so_and_leaves_the_map(open_page, people, project):
    # bob is also a member of project B: its landslides are his, but not on this map.
    Membership.objects.create(project=people.b, user=people.bob, role=Role.ANNOTATOR)
    elsewhere = make_landslide(make_inventory(people.b, "B's"))
    page = open_page(people.bob, map_url(project))
    ready(page)
    view = map_view(page)
    box = page.get_by_placeholder("landslide id")
    for id_ in (987654, elsewhere.pk):
        box.fill(str(id_))
        box.press("Enter")
        page.wait_for_function(
            f"document.getElementById('message').textContent.includes('no landslide #{id_}')"
        )
        assert page.locator("#message").inner_text() == (
            f"Project A has no landslide #{id_}; the map stays where it was."
        )
        assert map_view(page) == view
        assert page.evaluate("scarp.editor.selected") is None
    box.fill("twelve")
    box.press("Enter")
    page.wait_for_function("document.getElementById('message').textContent.includes('twelve')")
    assert map_view(page) == view
    assert page.errors == []
