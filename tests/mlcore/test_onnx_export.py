"""ONNX export: onnxruntime on a real chip gives PyTorch's numbers; Deepness' metadata."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from rasterio.windows import Window

from mlcore.data import SceneSpec, StackedScene, label_scenes, read_vector
from mlcore.data.dataset import read_prepared
from mlcore.modeldir.directory import load_model
from mlcore.modeldir.onnx_export import export_onnx
from mlcore.models.registry import ModelConfig
from mlcore.training.segmentation import TrainConfig, train
from tests.factories.landslide_scenes import make_scene


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    return make_scene(tmp_path_factory.mktemp("onnx") / "scene", size=256, blobs=14, seed=2)


def trained(place, out, model: ModelConfig):
    """One short epoch: real weights from the real training code, not a random network."""
    torch.manual_seed(0)
    labelled = label_scenes(
        [SceneSpec([place.image, place.dem])],
        [read_vector(place.landslides)],
        [read_vector(place.extents)],
    )
    config = TrainConfig(
        model=model, epochs=1, batch_size=4, chip_size=64, lr=3e-3, chips_per_epoch=16,
        num_workers=0, device="cpu",
    )  # fmt: skip
    return train(config, labelled, labelled, out)


MODELS = {
    "unet": ModelConfig(arch="unet", encoder="none", in_channels=4, encoder_depth=3),
    "unet-resnet18": ModelConfig(arch="unet", encoder="resnet18", in_channels=4, encoder_depth=3),
}


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request, place, tmp_path_factory):
    """Each architecture trained once and exported once, for all the tests of this file."""
    out = tmp_path_factory.mktemp(request.param) / "model"
    result = trained(place, out, MODELS[request.param])
    return out, result.checkpoint_sha256, export_onnx(out, resolution_m=place.resolution)


def test_onnxruntime_on_a_chip_matches_pytorch(place, exported):
    model_dir, sha, onnx_file = exported
    network, _, meta = load_model(model_dir, expected_sha256=sha)
    scene = StackedScene(SceneSpec([place.image, place.dem]))
    # A chip larger than the training chips and not square: the file takes any multiple of 8.
    chip, _ = read_prepared(scene, meta["input"], Window(64, 32, 128, 96))
    with torch.no_grad():
        expected = torch.sigmoid(network(torch.from_numpy(chip[None]))).numpy()
    session = ort.InferenceSession(str(onnx_file.path), providers=["CPUExecutionProvider"])
    (got,) = session.run(["probability"], {"input": chip[None]})
    assert got.shape == (1, 1, 96, 128)
    assert np.abs(got - expected).max() < 1e-4
    assert expected.std() > 0  # the model tells pixels apart: the comparison means something


def test_the_file_carries_what_deepness_and_scarp_read(place, exported):
    _, sha, onnx_file = exported
    props = {p.key: json.loads(p.value) for p in onnx.load(str(onnx_file.path)).metadata_props}
    assert props["model_type"] == "Segmentor"
    assert props["class_names"] == {"0": "background", "1": "landslide"}
    assert props["resolution"] == pytest.approx(place.resolution * 100)  # cm per model pixel
    assert props["tiles_size"] == 64
    assert props["scarp_checkpoint_sha256"] == sha
    spec = props["scarp_input"]
    assert props["scarp_channels"] == [r["band"] for r in spec["normalisation"]]
    # Deepness divides by 255, then standardises: that must be Scarp's (x - low) / (high - low).
    for band, mean, std in zip(
        spec["normalisation"],
        props["standardization_mean"],
        props["standardization_std"],
        strict=True,
    ):
        raw = np.array([band["low"], (band["low"] + band["high"]) / 2, band["high"]])
        assert ((raw / 255 - mean) / std) == pytest.approx([0.0, 0.5, 1.0], abs=1e-4)
