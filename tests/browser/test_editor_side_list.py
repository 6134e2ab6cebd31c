"""The side list of the landslides in the map's view, in the map editor in Chromium.

It counts what the view holds against the inventory, follows the map and the
saves, and a click on a row fits the map to that landslide and selects it.
"""

from __future__ import annotations

import pytest

from inventories.models import Landslide
from tests.browser.test_editor import map_url, project, ready, saved
from tests.browser.test_editor_merge_goto import contains, square_at
from tests.conftest import wait_for

__all__ = ["project"]  # the fixture, shared with the editor's tests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def area_text(m2: float) -> str:
    return f"{round(m2):,} m²" if m2 < 10_000 else f"{m2 / 10_000:,.2f} ha"


def count_says(page, text: str) -> None:
    page.wait_for_function(
        "(text) => document.getElementById('inview-count').textContent === text", arg=text
    )


def rows(page) -> list[list[str]]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#inview-rows tr')]
            .map((tr) => [...tr.cells].map((td) => td.textContent))"""
    )


def test_the_side_list_shows_the_landslides_in_view_and_a_row_selects_one(
    open_page, people, project
):
    inventory = project.inventories.get()
    page = open_page(people.bob, map_url(project))
    ready(page)
    in_view = [square_at(page, inventory, 300 + 160 * i, 200) for i in range(3)]
    far = [square_at(page, inventory, 2600 + 100 * i, 1900, size=40) for i in range(2)]
    Landslide.objects.filter(pk=in_view[1].pk).update(review_state="accepted")
    page.reload()
    ready(page)

    count_says(page, "3 of 5 in view")
    assert rows(page) == [
        [f"#{ls.pk}", area_text(ls.area_m2), state]
        for ls, state in zip(in_view, ["Not reviewed", "Accepted", "Not reviewed"], strict=True)
    ]

    # The list follows the map: over the two far ones it lists those.
    page.evaluate(
        "([w, s, e, n]) => scarp.map.fitBounds([[s, w], [n, e]], { padding: [60, 60] })",
        [
            min(ls.geometry.extent[0] for ls in far),
            min(ls.geometry.extent[1] for ls in far),
            max(ls.geometry.extent[2] for ls in far),
            max(ls.geometry.extent[3] for ls in far),
        ],
    )
    count_says(page, "2 of 5 in view")
    assert [row[0] for row in rows(page)] == [f"#{ls.pk}" for ls in far]

    target = far[1]
    page.locator(f'#inview-rows tr[data-id="{target.pk}"]').click()
    page.wait_for_function(f"scarp.editor.selected && scarp.editor.selected.id === {target.pk}")
    assert contains(page, target)
    assert page.locator("#attr-title").inner_text() == f"Landslide {target.pk}"

    # A save counts again: the selected one deleted (the view, fitted to it, holds no other),
    # the inventory holds four.
    page.locator("#map").focus()
    page.keyboard.press("Delete")
    wait_for(lambda: not Landslide.objects.filter(pk=target.pk).exists())
    saved(page)
    count_says(page, "0 of 4 in view")
    assert rows(page) == []
    assert page.errors == []


def test_a_view_holding_more_than_the_list_shows_says_so(open_page, people, project):
    inventory = project.inventories.get()
    page = open_page(people.bob, map_url(project))
    ready(page)
    for row in range(15):
        for column in range(15):
            square_at(page, inventory, 200 + 40 * column, 100 + 40 * row, size=30)
    page.reload()
    ready(page)
    count_says(page, "225 of 225 in view; showing the first 200, zoom in for the rest")
    assert len(rows(page)) == 200
    assert page.errors == []
