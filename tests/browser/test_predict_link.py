"""A prediction started on the model page ends in a link to its review (issue #14, item 2).

Real headless Chromium, a real Celery worker and a tiny real model: the
admin presses Predict, waits for the job, follows the link and lands on the
review of the new inventory, opened on the scene the model mapped.
"""

from __future__ import annotations

import pytest

from inventories.models import Inventory, Scene
from inventories.services.model_versions import snapshot_of
from tests.inventories import test_prediction

# The tiny trained model and the scenes to map, as the prediction tests make them.
trained = test_prediction.trained
version = test_prediction.version
target_scenes = test_prediction.target_scenes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def learnt_from_image_and_dem(version, target_scenes):
    """The version records what it learnt from, as a training job does: image + DEM.

    The page offers only places stacked like the model's training place; a
    version without that record is offered the image alone, which the 4-band
    model refuses (its message names the scene and the bands it needs).
    """
    image, dem = (Scene.objects.get(pk=pk) for pk in target_scenes[0])
    assert (image.kind, dem.kind) == ("optical", "dem")
    version.data_snapshot = snapshot_of([[image, dem]], [])
    version.save(update_fields=["data_snapshot"])
    return version


def test_the_predicted_message_links_to_the_review(
    open_page,
    people,
    learnt_from_image_and_dem,
    target_scenes,
    celery_worker,
):
    version = learnt_from_image_and_dem
    page = open_page(people.alice, f"/projects/{people.a.pk}/models/{version.pk}/")
    assert page.locator("#predict-form select[name=place]").input_value() == ",".join(
        str(pk) for pk in target_scenes[0]
    )
    page.click("#predict-form button[type=submit]")
    # The job ends in the link or in an error message: wait for either, then say which.
    page.wait_for_selector("#predict-form .status a, #predict-form .status.error", timeout=240_000)
    status = page.locator("#predict-form .status")
    assert "error" not in (status.get_attribute("class") or ""), status.inner_text()
    link = status.locator("a", has_text="Review them")

    inventory = Inventory.objects.get(project=people.a, kind="predicted")
    link.click()
    page.wait_for_url(f"**/projects/{people.a.pk}/inventories/{inventory.pk}/review/")
    page.wait_for_function("window.scarpReview && window.scarpReview.ready === true")
    assert page.locator("#base-scene").input_value() == str(inventory.source_scene_id)
    assert page.errors == []
