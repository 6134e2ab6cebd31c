"""The Siamese change model: what it is in the registry, and why a pre/post pair beats one image."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch

from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.errors import MlcoreError
from mlcore.evaluation.metrics import ConfusionCounts
from mlcore.models.registry import ARCHITECTURES, ModelConfig, build_model
from mlcore.predict.probability_raster import NODATA, threshold_value
from mlcore.predict.scene import predict_scene
from mlcore.training.segmentation import TrainConfig, train
from tests.factories.change_scenes import make_change_pair

torch.set_num_threads(1)  # two threads on a shared 2-core machine run 10x slower, not faster


def _tiny(arch: str, in_channels: int) -> ModelConfig:
    return ModelConfig(
        arch=arch, encoder="none", in_channels=in_channels, encoder_depth=3, base_channels=8
    )


def test_the_change_model_is_built_by_name_and_reads_post_then_pre():
    assert "siamese_unet" in ARCHITECTURES
    model = build_model(_tiny("siamese_unet", 6)).eval()
    post, pre = torch.rand(1, 3, 50, 70), torch.rand(1, 3, 50, 70)
    with torch.no_grad():
        forward = model(torch.cat([post, pre], dim=1))
        backward = model(torch.cat([pre, post], dim=1))
    assert forward.shape == (1, 1, 50, 70)
    assert not torch.allclose(forward, backward)  # appearing and vanishing are not the same


def test_an_odd_band_count_is_refused_with_the_reason():
    with pytest.raises(MlcoreError, match="post-event and a pre-event image"):
        build_model(_tiny("siamese_unet", 5))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("change")
    return make_change_pair(root / "train", seed=1), make_change_pair(
        root / "test", size=128, seed=2
    )


def _trained(arch: str, rasters: list, pair, out_dir) -> None:
    scenes = label_scenes(
        [SceneSpec(rasters)], [read_vector(pair.landslides)], [read_vector(pair.extents)]
    )
    config = TrainConfig(
        model=_tiny(arch, 3 * len(rasters)),
        epochs=3,
        batch_size=8,
        chip_size=64,
        lr=3e-3,
        chips_per_epoch=64,
        early_stopping_patience=None,
        num_workers=0,
        device="cpu",
    )
    train(config, scenes, scenes, out_dir)


def _predicted(model_dir, rasters, out_path) -> np.ndarray:
    result = predict_scene(model_dir, rasters, out_path)
    with rasterio.open(result.probability_path) as src:
        stored = src.read(1)
    return (stored >= threshold_value(result.threshold)) & (stored != NODATA)


def test_the_pair_finds_new_landslides_and_ignores_old_bare_ground(pairs, tmp_path):
    """In the post image old bare ground and new scars look alike; only the pair tells."""
    seen, test = pairs
    _trained("unet", [seen.post], seen, tmp_path / "single")
    _trained("siamese_unet", [seen.post, seen.pre], seen, tmp_path / "change")

    single = _predicted(tmp_path / "single", [test.post], tmp_path / "single.tif")
    change = _predicted(tmp_path / "change", [test.post, test.pre], tmp_path / "change.tif")

    f1_single = ConfusionCounts.from_masks(single, test.new_mask).scores().f1
    f1_change = ConfusionCounts.from_masks(change, test.new_mask).scores().f1
    old = test.old_mask == 1
    old_flagged_single, old_flagged_change = single[old].mean(), change[old].mean()
    assert f1_change > 0.75
    assert f1_change > f1_single + 0.1
    assert old_flagged_change < 0.1 < 0.4 < old_flagged_single
