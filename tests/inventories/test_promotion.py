"""Promoting reviewed polygons is safe to click twice, and the copies stay correctable.

Two reviewers clicking "promote" at the same moment used to copy the same
polygons twice; the copies were also frozen as accepted in a reference
inventory, where nobody can reopen them.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from inventories.models import Landslide, ModelVersion
from tests.factories.rows import make_inventory, make_landslide, square


@pytest.fixture
def predicted(people):
    model = ModelVersion.objects.create(project=people.a, name="unet-1", architecture="unet")
    return make_inventory(people.a, "Predicted", kind="predicted", model_version=model)


def promote_at_once(users, path: str, body: dict) -> list[int]:
    """POST the same promotion from several users in threads (each its own connection)."""
    barrier = threading.Barrier(len(users))
    answers: list = [None] * len(users)

    def click(index: int, user) -> None:
        client = APIClient()
        client.force_authenticate(user)
        barrier.wait()
        try:
            answers[index] = client.post(path, body, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_promoting_at_once_copy_each_polygon_once(people, predicted):
    reference = make_inventory(people.a, "Reference")
    path = f"/api/inventories/{predicted.pk}/review/promote/"
    sources: list[Landslide] = []
    for round_ in range(5):
        sources += [
            make_landslide(
                predicted, geometry=square(lon=98.6 + 0.01 * (3 * round_ + i)), review_state=state
            )
            for i, state in enumerate(["accepted", "edited", "accepted"])
        ]

        answers = promote_at_once([people.rita, people.alice], path, {"reference": reference.pk})

        assert [a.status_code for a in answers] == [201, 201], [a.content for a in answers]
        assert sum(a.json()["promoted"] for a in answers) == 3, f"round {round_}"
        copies = list(reference.landslides.values_list("promoted_from", flat=True))
        assert sorted(copies) == sorted(s.pk for s in sources), f"round {round_}"


@pytest.mark.django_db(transaction=True)
def test_two_clicks_on_promote_into_a_new_inventory_make_one_inventory(people, predicted):
    make_landslide(predicted, review_state="accepted")
    path = f"/api/inventories/{predicted.pk}/review/promote/"

    answers = promote_at_once([people.rita, people.alice], path, {"name": "Reviewed"})

    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 400], [a.content for a in answers]
    refused = next(a for a in answers if a.status_code == 400)
    assert "Reviewed" in refused.json()["detail"]
    reference = people.a.inventories.get(name="Reviewed")
    assert reference.landslides.count() == 1


@pytest.mark.django_db
def test_a_promoted_polygon_can_be_corrected_and_deleted_in_the_reference(api, people, predicted):
    accepted = make_landslide(predicted, review_state="accepted")
    make_landslide(predicted, geometry=square(lon=98.7), review_state="edited")
    answer = api.rita.post(
        f"/api/inventories/{predicted.pk}/review/promote/", {"name": "Reviewed"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    reference = people.a.inventories.get(name="Reviewed")
    copy = reference.landslides.get(promoted_from=accepted)
    assert copy.review_state == "none"
    assert copy.attributes["review_state"] == "accepted"  # the decision stays on record

    fixed = api.rita.patch(
        f"/api/landslides/{copy.pk}/", {"version": copy.version, "notes": "toe"}, format="json"
    )
    assert fixed.status_code == 200, fixed.content
    assert fixed.json()["properties"]["notes"] == "toe"
    other = reference.landslides.exclude(pk=copy.pk).get()
    gone = api.bob.delete(f"/api/landslides/{other.pk}/?version={other.version}")
    assert gone.status_code == 204, gone.content
    assert reference.landslides.count() == 1
