"""Prediction picks its batch size and memory format itself, once per machine, and obeys a user."""

import json

import numpy as np
import pytest
import torch

from mlcore.predict.forward_plan import PLAN_FILE, cpu_has_bf16
from mlcore.predict.predictor import InferenceConfig, Predictor
from mlcore.predict.scene import predict_scene
from mlcore.raster.geotiff import open_geotiff
from tests.factories.landslide_scenes import make_scene
from tests.mlcore.test_infer import write_model_dir

pytestmark = pytest.mark.usefixtures("two_threads")


def test_the_first_prediction_probes_and_later_ones_read_the_plan_from_the_model_dir(tmp_path):
    model = write_model_dir(tmp_path / "model")
    first = Predictor(model, InferenceConfig(device="cpu"))
    assert first.forward_choice.source == "probe"
    assert first.config.batch_size == first.forward_choice.batch_size >= 1
    assert first.config.channels_last == first.forward_choice.channels_last
    saved = json.loads((model / PLAN_FILE).read_text())
    (entry,) = saved.values()
    assert entry["batch_size"] == first.forward_choice.batch_size
    assert entry["channels_last"] == first.forward_choice.channels_last

    again = Predictor(model, InferenceConfig(device="cpu"))
    assert again.forward_choice.source == "cached probe"
    assert (again.forward_choice.batch_size, again.forward_choice.channels_last) == (
        first.forward_choice.batch_size,
        first.forward_choice.channels_last,
    )


def test_a_batch_size_and_memory_format_given_are_used_without_a_probe(tmp_path):
    model = write_model_dir(tmp_path / "model")
    config = InferenceConfig(device="cpu", batch_size=3, channels_last=True, amp=False)
    given = Predictor(model, config)
    assert given.forward_choice.source == "given"
    assert (given.config.batch_size, given.config.channels_last) == (3, True)
    assert not (model / PLAN_FILE).exists()
    weight = next(p for p in given.model.parameters() if p.dim() == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last)


def test_the_chosen_configuration_predicts_what_batch_8_contiguous_predicts(tmp_path):
    scene = make_scene(tmp_path / "scene", size=160, blobs=5, seed=2)
    model = write_model_dir(tmp_path / "model")
    paths = [scene.image, scene.dem]
    fixed = predict_scene(
        model,
        paths,
        tmp_path / "fixed.tif",
        config=InferenceConfig(device="cpu", batch_size=8, channels_last=False),
    )
    configs = [(1, True, False), (5, True, False), (2, False, False), (None, None, None)]
    if cpu_has_bf16():
        configs.append((4, True, True))
    for batch, channels_last, amp in configs:
        out = tmp_path / f"b{batch}{channels_last}{amp}.tif"
        config = InferenceConfig(
            device="cpu", batch_size=batch, channels_last=channels_last, amp=amp
        )
        predictor = Predictor(model, config)
        predict_scene(model, paths, out, config=config)
        with open_geotiff(fixed.probability_path) as a, open_geotiff(out) as b:
            diff = np.abs(a.read(1).astype(int) - b.read(1).astype(int))
        # One step of 1/254 where a kernel rounds differently; two under bfloat16.
        assert diff.max() <= (2 if predictor.forward_choice.bf16 else 1), (
            batch,
            channels_last,
            amp,
        )
