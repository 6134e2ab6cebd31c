"""A tiny Mask R-CNN trained on generated touching landslides, for the tests of its paths.

Two epochs of a 16-channel network on 64 px chips learn the generated scene
well enough to tell a touching pair apart, in seconds on one CPU thread.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.models.registry import ModelConfig
from mlcore.training.config import TrainConfig, TrainResult
from mlcore.training.instances import train_instances
from tests.factories.change_scenes import make_touching_scene


def tiny_maskrcnn_config(**changes) -> TrainConfig:
    model = ModelConfig(
        arch="maskrcnn", encoder="none", in_channels=3, encoder_depth=3, base_channels=16
    )
    settings = dict(
        model=model,
        epochs=2,
        batch_size=4,
        chip_size=64,
        lr=2e-3,
        chips_per_epoch=96,
        positive_fraction=0.8,
        early_stopping_patience=None,
        num_workers=0,
        device="cpu",
    )
    return TrainConfig(**{**settings, **changes})


def train_tiny_maskrcnn(directory: Path) -> TrainResult:
    """Train into directory/model on a scene of touching pairs (bands red, green, blue)."""
    seen = make_touching_scene(directory / "train", seed=0)
    scenes = label_scenes(
        [SceneSpec([seen.image])], [read_vector(seen.landslides)], [read_vector(seen.extents)]
    )
    # Two threads on a shared 2-core machine run 10x slower, not faster.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_instances(tiny_maskrcnn_config(), scenes, scenes, directory / "model")
    finally:
        torch.set_num_threads(threads)
