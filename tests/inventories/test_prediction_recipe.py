"""The recommended recipe end to end: its post-processing, saved in the model directory at
training, gives the same polygons through the documented CLI, the app's job and a split run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest

from inventories.models import Inventory, ModelVersion
from inventories.services.files import media_path
from inventories.services.scenes import scene_import
from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.training.recipes import get_recipe
from mlcore.training.tuning import train_and_tune
from tests.conftest import ROOT, wait_for
from tests.factories.landslide_scenes import make_scene


@pytest.fixture(scope="session")
def recipe_model(tmp_path_factory):
    """The cpu recipe, shrunk to seconds: 1 m model pixels of a 0.5 m scene, slope and relief."""
    root = tmp_path_factory.mktemp("recipe")
    synthetic = make_scene(root / "train", size=384, resolution=0.5, blobs=18)
    spec = SceneSpec([synthetic.image, synthetic.dem])
    labelled = label_scenes(
        [spec], [read_vector(synthetic.landslides)], [read_vector(synthetic.extents)]
    )
    config = get_recipe("cpu").config(
        ["red", "green", "blue", "dem"],
        scale=2, encoder_depth=3, base_channels=8, chip_size=64, epochs=3, chips_per_epoch=96,
        lr=3e-3, num_workers=0, device="cpu",
    )  # fmt: skip
    result = train_and_tune(config, labelled, labelled, root / "model")
    target = make_scene(root / "target", size=448, resolution=0.5, seed=5, blobs=24)
    return root / "model", result, target


def test_training_saves_the_chosen_post_processing_and_the_inputs_in_the_model_directory(
    recipe_model,
):
    model_dir, result, _ = recipe_model
    config = json.loads((model_dir / "config.json").read_text())
    assert config["input"]["derived"] == ["slope", "relief"]
    assert config["input"]["dropped"] == ["dem"] and config["input"]["scale"] == 2
    assert config["model"]["in_channels"] == 5  # red, green, blue, slope, relief
    post = config["postprocess"]
    assert config["threshold"] == post["threshold"] == result.best_threshold
    assert post["simplify_px"] == 1.0 and post["min_area_m2"] >= 0
    assert set(config["postprocess_validation"]) == {"pixel_f1", "object_f1"}
    assert result.postprocess["postprocess"] == post


@pytest.mark.django_db(transaction=True)
def test_cli_app_job_and_split_run_give_the_same_polygons(
    recipe_model, people, api, celery_worker, tmp_path
):
    model_dir, result, target = recipe_model
    # The documented command line.
    cli = [sys.executable, "-m", "mlcore", "predict", "--model", str(model_dir)]
    cli += ["--scene", f"{target.image},{target.dem}", "--out", str(tmp_path / "prob.tif")]
    cli += ["--polygons", str(tmp_path / "cli.gpkg"), "--device", "cpu"]
    subprocess.run(cli, check=True, cwd=ROOT, capture_output=True)
    from_cli = gpd.read_file(tmp_path / "cli.gpkg")
    assert len(from_cli) >= 3

    version = ModelVersion.objects.create(
        project=people.a, name="recipe", architecture="unet", encoder="none", status="ready",
        checkpoint_sha256=result.checkpoint_sha256, directory="models/recipe",
    )  # fmt: skip
    shutil.copytree(model_dir, media_path("models/recipe"), dirs_exist_ok=True)
    (image,) = scene_import(
        project=people.a, source=target.image, band_names=["red", "green", "blue"]
    )
    dem = scene_import(project=people.a, source=target.dem, kind="dem")[0]
    areas = {"cli": np.sort(from_cli["area_m2"].to_numpy())}
    for name, split in (("job", False), ("split", True)):
        body = {"scenes": [image.pk, dem.pk], "split": split}
        response = api.alice.post(f"/api/models/{version.pk}/predict/", body, format="json")
        assert response.status_code == 202, response.content
        job_id = response.json()["id"]
        job = wait_for(
            lambda job_id=job_id: version.project.jobs.filter(
                pk=job_id, state__in=["succeeded", "failed"]
            ).first(),
            timeout=240,
        )
        assert job.state == "succeeded", job.error + job.log
        inventory = Inventory.objects.get(pk=job.result["inventory_id"])
        areas[name] = np.sort([ls.area_m2 for ls in inventory.landslides.all()])
        if split:  # the worker's blocks are small: the model's 224 px grid really splits
            assert int(re.search(r"Split into (\d+) blocks", job.log).group(1)) > 1
    assert len(areas["cli"]) == len(areas["job"]) == len(areas["split"])
    # Stored in lon/lat by the app (areas on the ellipsoid) and written in UTM by the CLI: the
    # same outlines' areas agree to UTM's scale error, a fraction of a percent.
    assert np.allclose(areas["cli"], from_cli.geometry.area.sort_values(), rtol=1e-9)
    assert np.allclose(areas["cli"], areas["job"], rtol=2e-3)
    assert np.allclose(areas["job"], areas["split"], rtol=1e-6)
