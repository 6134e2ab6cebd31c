"""The map's legend in Chromium: made from the style table the map draws with.

A swatch is compared with the very polygon the map drew for that state or split,
so a colour changed in the table changes both, or this fails.
"""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from tests.browser.test_editor import lonlat, map_url, project, ready
from tests.browser.test_editor_merge_goto import square_at
from tests.factories.rows import make_extent

__all__ = ["project"]  # the fixture, shared with the editor's tests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def legend(page) -> dict[str, list[tuple[str, str, str, str]]]:
    """Each legend group's entries: (key, label, swatch stroke, swatch fill)."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.map-legend h3')].map((h) => [
            h.textContent,
            [...h.nextElementSibling.querySelectorAll('li')].map((li) => {
              const rect = li.querySelector('rect');
              return [li.dataset.key, li.textContent, rect.getAttribute('stroke'),
                      rect.getAttribute('fill')];
            }),
        ]))"""
    )


def drawn(page, pane: str, attribute: str) -> set[str]:
    page.wait_for_selector(f".leaflet-{pane}-pane path", state="attached")
    return set(
        page.evaluate(
            "([pane, attribute]) => [...document.querySelectorAll(`.leaflet-${pane}-pane path`)]"
            ".map((p) => p.getAttribute(attribute))",
            [pane, attribute],
        )
    )


def test_the_legend_shows_each_review_state_and_split_as_the_map_draws_it(
    open_page, people, project
):
    inventory = project.inventories.get()
    page = open_page(people.bob, map_url(project))
    ready(page)
    accepted_one = square_at(page, inventory, 300, 200)
    accepted_one.review_state = "accepted"
    accepted_one.save()
    (west, north), (east, south) = lonlat(page, 500, 150), lonlat(page, 800, 450)
    make_extent(
        inventory,
        geometry=MultiPolygon(Polygon.from_bbox((west, south, east, north)), srid=4326),
        split="validation",
    )
    page.reload()
    ready(page)
    shown = legend(page)

    assert [(key, label) for key, label, *_ in shown["Landslides"]] == [
        ("none", "Not reviewed"),
        ("accepted", "Accepted"),
        ("rejected", "Rejected"),
        ("edited", "Accepted with edits"),
    ]
    assert [(key, label) for key, label, *_ in shown["Mapped extents"]] == [
        ("train", "Train"),
        ("validation", "Validation"),
        ("test", "Test"),
    ]
    accepted = next(entry for entry in shown["Landslides"] if entry[0] == "accepted")
    assert drawn(page, "landslides", "stroke") == {accepted[2]}
    validation = next(entry for entry in shown["Mapped extents"] if entry[0] == "validation")
    assert drawn(page, "extents", "fill") == {validation[3]} == {"url(#hatch-validation)"}
    assert drawn(page, "extents", "stroke") == {validation[2]}
    # The hatching is drawn in the split's colour, from the same table.
    hatch_colour = page.evaluate(
        "document.querySelector('#hatch-validation line').getAttribute('stroke')"
    )
    assert hatch_colour == validation[2]
    strokes = {entry[2] for entry in shown["Landslides"]}
    assert len(strokes) == 4  # four states, four colours

    page.locator(".map-legend summary").click()
    assert page.locator(".map-legend h3").first.is_hidden()
    assert page.errors == []
