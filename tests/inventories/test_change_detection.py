"""Change detection in the app: pre/post pairs for training, prediction and the map.

The generated pair has new landslides (post only, labelled) and old bare
ground (on both dates); the app must stack each place as post then pre, refuse
anything else for a change model, and predict on the same kind of pair.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from inventories.errors import InvalidInput
from inventories.models import Inventory, Job, ModelVersion, Scene
from inventories.selectors.models import place_recipe, prediction_places, training_places
from inventories.selectors.tiles import map_layers
from inventories.services.inventories import extents_import, inventory_import
from inventories.services.prediction import prediction_start
from inventories.services.scenes import scene_import
from inventories.services.training import training_start
from tests.conftest import wait_for
from tests.factories.change_scenes import make_change_pair
from tests.factories.rasters import write_geotiff

TINY = {
    "epochs": 3,
    "batch_size": 8,
    "chip_size": 64,
    "scale": 1,  # the generated pair is small: train on its own pixels
    "chips_per_epoch": 128,
    "lr": 0.003,
    "encoder_depth": 3,
    "base_channels": 8,
}
RGB = ["red", "green", "blue"]


@pytest.fixture
def pair_project(people, tmp_path):
    """Project A with a post-event scene, its pre-event partner, a DEM, labels and extents."""
    pair = make_change_pair(tmp_path / "pair", size=256)
    (post,) = scene_import(project=people.a, source=pair.post, name="After", band_names=RGB)
    (pre,) = scene_import(
        project=people.a, source=pair.pre, name="Before", phase="pre", band_names=RGB
    )
    dem_data = np.linspace(100, 300, 256 * 256, dtype=np.float32).reshape(1, 256, 256)
    with rasterio.open(pair.post) as src:
        dem_path = write_geotiff(
            tmp_path / "dem.tif", dem_data, transform=src.transform, nodata=-9999
        )
    dem = scene_import(project=people.a, source=dem_path, name="DEM", kind="dem")[0]
    inventory = inventory_import(project=people.a, path=pair.landslides, name="New landslides")
    extents_import(inventory=inventory, path=pair.extents)
    return people.a, pair, post, pre, dem


def change_start(project, places, user, **options):
    return training_start(
        project=project,
        user=user,
        name="change",
        places=places,
        arch="siamese_unet",
        encoder="none",
        hyperparameters={**TINY, **options},
    )


@pytest.mark.django_db
def test_a_post_event_scene_is_offered_with_its_pre_event_partner(pair_project):
    project, _, post, pre, dem = pair_project
    (place,) = training_places(project=project)
    assert (place.scene, place.pre, place.elevation) == (post, pre, [dem])
    layers = {s["id"]: s for s in map_layers(project=project)["scenes"]}
    assert layers[post.pk]["pair"] == pre.pk
    assert layers[pre.pk]["pair"] is None and layers[dem.pk]["pair"] is None


@pytest.mark.django_db
def test_a_change_model_refuses_anything_but_post_then_pre_and_creates_nothing(
    pair_project, people, tmp_path
):
    project, pair, post, pre, dem = pair_project
    with rasterio.open(pair.pre) as src:
        one_band = write_geotiff(
            tmp_path / "pre1.tif", src.read(1)[None], transform=src.transform, nodata=0
        )
    (gray,) = scene_import(project=project, source=one_band, name="Gray before", phase="pre")
    refused = {
        "post alone": [[post.pk]],
        "pre first": [[pre.pk, post.pk]],
        "post with elevation": [[post.pk, dem.pk]],
        "three scenes": [[post.pk, pre.pk, dem.pk]],
        "other bands": [[post.pk, gray.pk]],
    }
    messages = {}
    for label, places in refused.items():
        with pytest.raises(InvalidInput) as caught:
            change_start(project, places, people.alice)
        messages[label] = str(caught.value)
    assert "nothing more" in messages["post alone"]
    assert "post-event optical scene followed by a pre-event" in messages["pre first"]
    assert "post-event optical scene followed by a pre-event" in messages["post with elevation"]
    assert "3 scene(s)" in messages["three scenes"]
    assert "same bands" in messages["other bands"]
    assert not ModelVersion.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_change_model_trains_and_predicts_on_the_pair_through_the_worker(
    pair_project, people, celery_worker
):
    project, pair, post, pre, dem = pair_project
    job = change_start(project, [[post.pk, pre.pk]], people.alice)
    job = wait_for(
        lambda: Job.objects.filter(pk=job.pk, state__in=["succeeded", "failed"]).first(),
        timeout=300,
    )
    assert job.state == "succeeded", job.error + job.log
    version = ModelVersion.objects.get(pk=job.params["model_version"])
    assert version.status == "ready" and version.architecture == "siamese_unet"
    # Both dates carry the same band names; the second date's get a suffix.
    assert version.input_bands == RGB + [f"{b}_2" for b in RGB]
    assert [s["phase"] for s in version.data_snapshot["places"][0]] == ["post", "pre"]

    # Prediction is offered (and only accepted) on a pair stacked the same way.
    assert place_recipe(version) == ["post", "pre"]
    assert prediction_places(version) == [[post, pre]]
    with pytest.raises(InvalidInput, match="nothing more"):
        prediction_start(version=version, scene_ids=[post.pk], user=people.alice)
    assert Job.objects.filter(kind=Job.Kind.PREDICT).count() == 0

    predicted = prediction_start(version=version, scene_ids=[post.pk, pre.pk], user=people.alice)
    predicted = wait_for(
        lambda: Job.objects.filter(pk=predicted.pk, state__in=["succeeded", "failed"]).first(),
        timeout=180,
    )
    assert predicted.state == "succeeded", predicted.error + predicted.log
    inventory = Inventory.objects.get(pk=predicted.result["inventory_id"])
    assert inventory.model_version == version and inventory.source_scene == post
    probability = Scene.objects.get(pk=predicted.result["probability_scene_id"])
    assert (probability.width, probability.height) == (post.width, post.height)
    # Where the ground was already bare before the event, the change model sees no landslide:
    # the probability over new landslides stands well above that over old bare ground.
    with rasterio.open(probability.path) as src:
        prob = src.read(1).astype(float) / 254
    new, old = prob[pair.new_mask == 1].mean(), prob[pair.old_mask == 1].mean()
    assert new > old + 0.2, (new, old)
