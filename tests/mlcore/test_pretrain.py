"""Self-supervised pretraining: it pays off with few labels, and its directory says what it was."""

from __future__ import annotations

import argparse
import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
import torch

from mlcore.commands.pretrain import register
from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import load_checkpoint, read_sidecar
from mlcore.modeldir.directory import load_model
from mlcore.models.registry import ModelConfig
from mlcore.training.pretrain import PretrainConfig, finetune_config, pretrain, pretraining_of
from mlcore.training.segmentation import TrainConfig, TrainingCancelled, train
from tests.factories.change_scenes import ORIGIN, make_faint_scene
from tests.factories.rasters import UTM47N

torch.set_num_threads(1)  # two threads on a shared 2-core machine run 10x slower, not faster

MODEL = ModelConfig(arch="unet", encoder="none", in_channels=3, encoder_depth=3, base_channels=8)


def _a_tenth_of_the_labels() -> gpd.GeoDataFrame:
    """Eight 20 m squares spread over the left half (9.8% of it) train; the right half validates."""
    x0, y1 = ORIGIN
    squares = [
        shapely.box(x0 + 20 + 64 * i, y1 - 40 - 64 * j, x0 + 40 + 64 * i, y1 - 20 - 64 * j)
        for i in range(2)
        for j in range(4)
    ]
    validation = shapely.box(x0 + 130, y1 - 256, x0 + 256, y1)
    return gpd.GeoDataFrame(
        {"split": ["train"] * 8 + ["validation"]}, geometry=[*squares, validation], crs=UTM47N
    )


def _fine_tune(config: TrainConfig, scenes, out_dir) -> float:
    return train(config, scenes, scenes, out_dir, resume=False).best_f1


def test_pretraining_then_a_tenth_of_the_labels_beats_that_tenth_alone(tmp_path):
    labelled = make_faint_scene(tmp_path / "labelled", seed=0)
    unlabelled = make_faint_scene(tmp_path / "unlabelled", seed=100)
    extents = _a_tenth_of_the_labels()
    assert extents.area[:8].sum() / (128 * 256) < 0.1
    scenes = label_scenes(
        [SceneSpec([labelled.image])], [read_vector(labelled.landslides)], [extents]
    )
    imagery = [SceneSpec([unlabelled.image]), SceneSpec([labelled.image])]
    settings = dict(batch_size=8, chip_size=64, lr=3e-3, patch_size=8, device="cpu")
    pretrain(
        PretrainConfig(model=MODEL, epochs=4, chips_per_epoch=128, **settings),
        imagery,
        tmp_path / "pre",
    )

    scratch, pretrained = [], []
    for seed in (0, 1, 2):  # a lucky initialisation sometimes learns fast alone: average it out
        config = TrainConfig(
            model=MODEL,
            epochs=2,
            batch_size=8,
            chip_size=64,
            chips_per_epoch=64,
            min_coverage=0.05,
            early_stopping_patience=None,
            seed=seed,
            num_workers=0,
            device="cpu",
        )
        scratch.append(_fine_tune(config, scenes, tmp_path / "scratch"))
        tuned = finetune_config(config, tmp_path / "pre")
        pretrained.append(_fine_tune(tuned, scenes, tmp_path / "tuned"))

    assert np.mean(pretrained) > np.mean(scratch) + 0.15, (scratch, pretrained)
    assert min(pretrained) > 0.6
    assert pretraining_of(tmp_path / "tuned")["method"] == "masked"


def cli(*argv: str) -> int:
    """Parse and run like `python -m mlcore pretrain ...`."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["pretrain", *argv])
    return args.func(args)


def test_the_command_pretrains_an_smp_encoder_records_it_and_resumes(tmp_path):
    scene = make_faint_scene(tmp_path / "scene", size=96, seed=4)
    out = tmp_path / "pre"
    args = ["--scene", str(scene.image), "--arch", "unet", "--encoder", "resnet18"]
    args += ["--encoder-depth", "3", "--chip-size", "64", "--chips-per-epoch", "4"]
    args += ["--batch-size", "4", "--patch-size", "8", "--device", "cpu", "--out", str(out)]
    assert cli(*args, "--epochs", "1") == 0

    config = json.loads((out / "config.json").read_text())
    record = config["pretraining"]
    assert record["method"] == "masked" and record["mask_ratio"] == 0.6
    assert record["fresh"] == ["segmentation_head.0.weight", "segmentation_head.0.bias"]
    model, model_config, _ = load_model(out)
    reconstruction = load_checkpoint(out / "last.pt", expected_sha256=read_sidecar(out / "last.pt"))
    name = "encoder.layer1.0.conv1.weight"
    assert torch.equal(model.state_dict()[name], reconstruction["model"][name])

    with pytest.raises(MlcoreError, match="already holds a pretraining"):
        cli(*args, "--epochs", "2")
    assert cli(*args, "--epochs", "2", "--resume") == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]

    other = TrainConfig(model=ModelConfig(arch="unet", encoder="resnet34", in_channels=3))
    with pytest.raises(MlcoreError, match="fine-tune the same network"):
        finetune_config(other, out)
    assert finetune_config(TrainConfig(model=model_config), out).pretraining["epochs_run"] == 2


def test_a_stopped_pretraining_keeps_its_last_epoch_and_resumes_from_it(tmp_path):
    scene = make_faint_scene(tmp_path / "scene", size=64, seed=5)
    settings = dict(batch_size=2, chip_size=32, chips_per_epoch=4, patch_size=8, device="cpu")
    config = PretrainConfig(model=MODEL, epochs=2, **settings)
    calls = []

    def stop_in_the_second_epoch() -> bool:
        calls.append(1)
        return len(calls) > 2  # two batches per epoch

    with pytest.raises(TrainingCancelled):
        pretrain(
            config,
            [SceneSpec([scene.image])],
            tmp_path / "pre",
            should_stop=stop_in_the_second_epoch,
        )
    history = json.loads((tmp_path / "pre" / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1]

    result = pretrain(config, [SceneSpec([scene.image])], tmp_path / "pre")
    assert [h["epoch"] for h in result.history] == [1, 2]


def test_pretraining_learns_the_recipes_terrain_on_its_grid_and_a_fine_tune_must_match(tmp_path):
    """The recommended recipe feeds slope and relief on 2 m pixels: a pretraining for it
    sees the same channels on the same grid, and a fine-tune on other inputs is refused."""
    from tests.factories.landslide_scenes import make_scene

    scene = make_scene(tmp_path / "scene", size=256)
    spec = SceneSpec([scene.image, scene.dem])
    terrain = {"derived_bands": ("slope", "relief"), "dropped_bands": ("dem",), "scale": 2}
    model = ModelConfig(
        arch="unet", encoder="none", in_channels=5, encoder_depth=2, base_channels=4
    )
    small = dict(batch_size=4, chip_size=32, device="cpu")
    pre = PretrainConfig(model=model, epochs=1, chips_per_epoch=8, patch_size=8, **small, **terrain)
    pretrain(pre, [spec], tmp_path / "pre")

    written = json.loads((tmp_path / "pre" / "config.json").read_text())["input"]
    assert written["derived"] == ["slope", "relief"] and written["scale"] == 2
    channels = [r["band"] for r in written["normalisation"]]
    assert channels == ["red", "green", "blue", "slope", "relief"]  # no absolute elevation
    labelled = label_scenes([spec], [read_vector(scene.landslides)], [read_vector(scene.extents)])
    config = TrainConfig(model=model, epochs=1, chips_per_epoch=8, **small, **terrain)
    tuned = finetune_config(config, tmp_path / "pre")
    assert tuned.init_from == tmp_path / "pre" and tuned.pretraining["scale"] == 2
    assert train(tuned, labelled, labelled, tmp_path / "fine", resume=False).checkpoint_sha256

    plain = TrainConfig(model=model, epochs=1, **small, derived_bands=("slope", "relief"))
    with pytest.raises(MlcoreError, match="at model pixel 2, but this training derives"):
        finetune_config(plain, tmp_path / "pre")
    # Same terrain and grid, but absolute elevation kept as a channel: other inputs too.
    with_height = TrainConfig(model=model, epochs=1, **small, **{**terrain, "dropped_bands": ()})
    with pytest.raises(MlcoreError, match=r"leaving out \['dem'\]\) at model pixel 2"):
        finetune_config(with_height, tmp_path / "pre")
