"""The review's words and figures: who decided a polygon, shares written as percentages."""

from __future__ import annotations

import pytest

from inventories.models import ModelVersion
from tests.factories.rows import make_inventory, make_landslide

pytestmark = pytest.mark.django_db


@pytest.fixture
def predicted(people):
    model = ModelVersion.objects.create(
        project=people.a, name="unet-1", architecture="unet", metrics={"threshold": 0.6}
    )
    return make_inventory(people.a, "Predicted", kind="predicted", model_version=model)


def decide(client, landslide, decision: str):
    return client.post(
        f"/api/inventories/{landslide.inventory.pk}/review/landslides/{landslide.pk}/decide/",
        {"decision": decision, "version": landslide.version},
        format="json",
    )


def test_a_decision_answers_with_the_reviewer_as_the_last_to_change_it(api, predicted):
    polygon = make_landslide(predicted, confidence=0.7)
    answer = decide(api.rita, polygon, "accepted")
    assert answer.status_code == 200, answer.content
    assert answer.json()["landslide"]["properties"]["updated_by"] == "rita"


def test_a_stale_decision_answers_with_who_changed_it_meanwhile(api, predicted):
    polygon = make_landslide(predicted, confidence=0.7)
    assert decide(api.rita, polygon, "rejected").status_code == 200
    clash = decide(api.alice, polygon, "accepted")  # still names version 1
    assert clash.status_code == 409
    assert clash.json()["current"]["properties"]["updated_by"] == "rita"


def test_the_dashboard_writes_shares_as_percentages(client, people, api, predicted):
    rows = [make_landslide(predicted) for _ in range(8)]
    decide(api.rita, rows[0], "accepted")
    decide(api.rita, rows[1], "accepted")
    decide(api.rita, rows[2], "rejected")
    decide(api.alice, rows[3], "accepted")
    client.force_login(people.bob)
    page = client.get(f"/projects/{people.a.pk}/inventories/{predicted.pk}/review/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "4 (50% of all)" in html
    assert (
        "<td>rita</td><td>1</td><td>3</td><td>2</td><td>0</td><td>1</td><td>67%</td><td>33%</td>"
        in html
    )
    assert (
        "<td>alice</td><td>1</td><td>1</td><td>1</td><td>0</td><td>0</td><td>100%</td><td>0%</td>"
        in html
    )


def test_an_outsider_gets_404_on_the_dashboard(client, people, predicted):
    client.force_login(people.charlie)
    page = client.get(f"/projects/{people.a.pk}/inventories/{predicted.pk}/review/dashboard/")
    assert page.status_code == 404
