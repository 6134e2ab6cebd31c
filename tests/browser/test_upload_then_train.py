"""A first day in real Chromium: a scene and its DEM uploaded through the project page's form,
then a training started from the models page with the form's defaults, on the real worker.

The band names typed in the upload form once lived only on the Scene row, so
training with the recipe failed at its first step on a scene uploaded this way
(issue #14). Here the training must get past reading its data and run its
batches; it is then cancelled (the recipe's full run is the bench's business).
"""

from __future__ import annotations

import pytest

from inventories.models import Job, ModelVersion, Scene
from inventories.services.inventories import extents_import, inventory_import
from inventories.services.jobs import job_cancel
from mlcore.training.recipes import get_recipe
from tests.conftest import wait_for
from tests.factories.landslide_scenes import make_scene

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def upload(page, path, *, name: str, kind: str, band_names: str = "") -> None:
    form = page.locator("form.upload").first  # the imagery form comes first
    form.locator("input[type=file]").set_input_files(str(path))
    form.locator("input[name=name]").fill(name)
    form.locator("select[name=kind]").select_option(kind)
    if band_names:
        form.locator("input[name=band_names]").fill(band_names)
    form.locator("button[type=submit]").click()
    # The import job ends, the page reloads and lists the scene.
    page.locator("#scenes tr", has_text=name).first.wait_for(timeout=180_000)


def test_a_scene_uploaded_through_the_form_trains_with_the_forms_defaults(
    open_page, people, tmp_path, celery_worker
):
    # The cpu recipe's chips are 192 model pixels of 4 x 4 scene pixels (768 px a side), and
    # must lie in the train extent (the left half) clear of the validation one: 2400 px.
    synthetic = make_scene(tmp_path / "data", size=2400, blobs=60)
    page = open_page(people.alice, f"/projects/{people.a.pk}/")
    upload(page, synthetic.image, name="Gorge after", kind="optical", band_names="red,green,blue")
    upload(page, synthetic.dem, name="Gorge DEM", kind="dem")
    image = Scene.objects.get(project=people.a, name="Gorge after")
    assert image.band_names == ["red", "green", "blue"]
    inventory = inventory_import(project=people.a, path=synthetic.landslides, name="Walked")
    extents_import(inventory=inventory, path=synthetic.extents)

    page.goto(f"/projects/{people.a.pk}/models/")
    form = page.locator("#train-form")
    recipe = get_recipe("cpu")
    assert form.locator("[name=recipe]").input_value() == recipe.name
    assert form.locator("[name=epochs]").input_value() == str(recipe.train["epochs"])
    form.locator("input[name=name]").fill("First model")
    form.locator("button[type=submit]").click()  # everything else as the form offers it
    form.locator(".status", has_text="batch").wait_for(timeout=240_000)

    job = Job.objects.get(kind="train")
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    assert job.state == "running", job.error + job.log
    assert version.hyperparameters["recipe"] == "cpu"
    assert "Epoch 1/" in form.locator(".status").inner_text()
    assert page.errors == []

    job_cancel(job=job, user=people.alice)
    job = wait_for(
        lambda: Job.objects.filter(pk=job.pk).exclude(state__in=["queued", "running"]).first(),
        timeout=120,
    )
    assert job.state == "cancelled", job.error + job.log
