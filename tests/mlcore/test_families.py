"""Model families by traits: the registry answers what a family can do, callers never ask names."""

from __future__ import annotations

import json

import pytest
import torch

from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.modeldir.directory import read_config
from mlcore.models.registry import (
    ARCHITECTURES,
    INSTANCE,
    KINDS,
    UnknownModel,
    families,
    family_of,
)
from mlcore.predict.predictor import model_tta
from mlcore.training.tuning import TASKS, train_and_tune
from tests.factories.change_scenes import make_touching_scene
from tests.factories.instance_model import tiny_maskrcnn_config

torch.set_num_threads(1)


def test_an_unknown_family_is_answered_with_the_known_ones():
    with pytest.raises(UnknownModel, match="choose one of: unet, unetplusplus"):
        family_of("unet3d")


def test_every_kind_has_a_family_and_a_training_task():
    assert {f.kind for f in ARCHITECTURES.values()} == set(KINDS) == set(TASKS)
    assert [f.name for f in families(inputs="pair")] == ["siamese_unet"]
    assert [f.name for f in families(splits_into_blocks=False)] == ["maskrcnn"]
    assert "maskrcnn" not in [f.name for f in families(pretrainable=True)]
    # What a page's script reads is plain data, and holds every trait.
    assert json.loads(json.dumps([f.traits() for f in ARCHITECTURES.values()]))
    assert {"tunes_postprocess", "flips_at_prediction"} <= set(family_of("unet").traits())


def test_test_time_flips_apply_where_a_family_draws_maps_and_only_where_asked():
    """A recipe's tta reaches every family's config.json; a Mask R-CNN's detections are no
    map to average, so its model (and its page) must not claim flips."""
    for family in ARCHITECTURES.values():
        asked = {"model": {"arch": family.name}, "train": {"tta": True}}
        assert model_tta(asked) is (family.kind != INSTANCE), family.name
        assert model_tta({**asked, "train": {"tta": False}}) is False


def test_train_and_tune_trains_an_instance_family_with_its_task_and_tunes_nothing(tmp_path):
    scene = make_touching_scene(tmp_path / "scene", size=160)
    scenes = label_scenes(
        [SceneSpec([scene.image])], [read_vector(scene.landslides)], [read_vector(scene.extents)]
    )
    config = tiny_maskrcnn_config(epochs=1, chips_per_epoch=8, tune_postprocess=True)
    result = train_and_tune(config, scenes, scenes, tmp_path / "model")
    assert result.epochs_run == 1 and result.checkpoint_sha256
    assert result.postprocess is None  # its polygons are its own detections
    written = read_config(tmp_path / "model")
    assert written["model"]["arch"] == "maskrcnn" and "postprocess" not in written
