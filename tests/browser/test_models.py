"""The model registry page in real headless Chromium: the forms send what an admin chose.

Jobs are only queued here (no worker): what counts is the request the page
made and the rows the server recorded from it.
"""

from __future__ import annotations

import pytest

from inventories.models import Job, ModelVersion
from inventories.tasks import job_run
from mlcore.training.recipes import get_recipe
from tests.factories.imported import PRETRAIN, import_generated_place, start_pretraining

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def project_with_data(people, tmp_path):
    return people.a, import_generated_place(people.a, tmp_path / "data", size=128)


def models_url(project) -> str:
    return f"/projects/{project.pk}/models/"


def fill(form, values: dict[str, str]) -> None:
    for name, value in values.items():
        form.locator(f"[name={name}]").fill(value)


def test_the_pretraining_form_queues_a_pretraining_with_the_chosen_settings(
    open_page, people, project_with_data, settings
):
    project, places = project_with_data
    page = open_page(people.alice, models_url(project))
    form = page.locator("#pretrain-form")
    form.locator("select[name=method]").select_option("denoising")
    assert form.locator("[name=noise_std]").is_visible()
    assert not form.locator("[name=mask_ratio]").is_visible()
    fill(form, {"name": "All imagery, denoising", "encoder": "none", "encoder_depth": "3",
                "base_channels": "8", "epochs": "2", "chip_size": "64",
                "chips_per_epoch": "16", "noise_std": "0.25"})  # fmt: skip
    form.locator("button[type=submit]").click()
    page.wait_for_function(
        "document.querySelector('#pretrain-form .status').textContent.length > 0"
    )
    assert "rror" not in form.locator(".status").text_content()
    version = ModelVersion.objects.get(kind="pretraining")
    assert version.name == "All imagery, denoising" and version.pretraining["method"] == "denoising"
    assert version.hyperparameters["noise_std"] == 0.25
    assert version.hyperparameters["encoder_depth"] == 3
    assert version.data_snapshot["places"][0][0]["id"] == places[0][0]
    assert Job.objects.get(kind="pretrain").params == {"model_version": version.pk}
    assert page.errors == []


def test_training_from_a_pretraining_takes_its_network_and_records_it(
    open_page, people, project_with_data, settings
):
    settings.SCARP_TRAIN_LOADER_WORKERS = 0
    settings.SCARP_TRAIN_DEVICE = "cpu"
    project, places = project_with_data
    job = start_pretraining(project, places, people.alice)
    job_run(job.pk)
    pre = ModelVersion.objects.get(pk=job.params["model_version"])
    assert pre.status == "ready", Job.objects.get(pk=job.pk).error

    page = open_page(people.alice, models_url(project))
    form = page.locator("#train-form")
    fill(form, {"encoder": "resnet34", "encoder_depth": "5", "base_channels": "32"})
    form.locator("select[name=pretrained]").select_option(str(pre.pk))
    # The pretraining's network replaces whatever the form held.
    assert form.locator("[name=encoder]").input_value() == "none"
    assert form.locator("[name=encoder_depth]").input_value() == str(PRETRAIN["encoder_depth"])
    assert form.locator("[name=base_channels]").input_value() == str(PRETRAIN["base_channels"])
    fill(form, {"name": "Fine-tuned", "epochs": "1", "chip_size": "32", "chips_per_epoch": "16"})
    form.locator("button[type=submit]").click()
    page.wait_for_function("document.querySelector('#train-form .status').textContent.length > 0")
    assert "rror" not in form.locator(".status").text_content()
    tuned = ModelVersion.objects.get(name="Fine-tuned")
    assert tuned.pretrained_from == pre and tuned.pretraining["sha256"] == pre.checkpoint_sha256
    assert page.errors == []


def test_the_training_form_starts_from_the_documented_recipe_and_sends_it(
    open_page, people, project_with_data, settings
):
    """A mapper who only names the model trains the README's recipe, as the page says."""
    settings.SCARP_TRAIN_DEVICE = "cpu"
    project, places = project_with_data
    recipe = get_recipe("cpu")
    page = open_page(people.alice, models_url(project))
    form = page.locator("#train-form")
    shown = {
        name: form.locator(f"[name={name}]").input_value()
        for name in ("epochs", "chip_size", "scale", "batch_size", "chips_per_epoch", "encoder")
    }
    expected = {k: str(recipe.train[k]) for k in shown if k in recipe.train}
    assert shown == {**expected, "encoder": recipe.model["encoder"]}
    assert "test-time flips" in page.locator("main").text_content()
    fill(form, {"name": "First model"})
    form.locator("button[type=submit]").click()
    page.wait_for_function("document.querySelector('#train-form .status').textContent.length > 0")
    assert "rror" not in form.locator(".status").text_content()
    version = ModelVersion.objects.get(name="First model")
    assert version.hyperparameters["recipe"] == "cpu"
    for name in ("epochs", "chip_size", "scale", "batch_size", "chips_per_epoch"):
        assert version.hyperparameters[name] == recipe.train[name], name
    assert page.errors == []
