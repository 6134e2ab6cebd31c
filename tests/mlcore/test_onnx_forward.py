"""Prediction in ONNX Runtime: the same map as PyTorch's, chosen by the probe only where it pays.

The graph is exported from the model directory's weights once and kept beside
them; ONNX Runtime is tried against the stored plan only when a prediction's
forward work would outlast the export, and its answer joins the plan, so a
later prediction on this machine uses it without timing anything again.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mlcore.errors import MlcoreError
from mlcore.predict.forward_plan import PLAN_FILE
from mlcore.predict.onnx_forward import PREFIX, forward_file
from mlcore.predict.predictor import InferenceConfig, Predictor
from mlcore.predict.scene import predict_scene
from mlcore.raster.geotiff import open_geotiff
from tests.factories.landslide_scenes import make_scene
from tests.mlcore.test_infer import write_model_dir
from tests.mlcore.test_predict_cli import run_predict

pytestmark = pytest.mark.usefixtures("two_threads")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A model directory whose graph is already exported (an export takes seconds)."""
    model = write_model_dir(tmp_path_factory.mktemp("exported") / "model", weight_std=0.5)
    forward_file(model, json.loads((model / "config.json").read_text())["checkpoint"]["sha256"])
    return model


@pytest.fixture
def model(exported, tmp_path):
    return Path(shutil.copytree(exported, tmp_path / "model"))


def _read(path) -> np.ndarray:
    with open_geotiff(path) as ds:
        return ds.read(1).astype(int)


def _onnx_files(model):
    return sorted(model.glob(f"{PREFIX}*.onnx"))


@pytest.mark.slow
def test_onnxruntime_draws_pytorchs_map_with_flips_and_exports_the_graph_once(tmp_path):
    scene = make_scene(tmp_path / "scene", size=160, blobs=5, seed=2, nodata_rows=12)
    model = write_model_dir(tmp_path / "model", weight_std=0.5)
    paths = [scene.image, scene.dem]
    common = {"device": "cpu", "batch_size": 4, "channels_last": False, "amp": False, "tta": True}
    torch_map = predict_scene(
        model, paths, tmp_path / "torch.tif", config=InferenceConfig(**common, runtime="torch")
    )
    onnx = InferenceConfig(**common, runtime="onnxruntime")
    onnx_map = predict_scene(model, paths, tmp_path / "onnx.tif", config=onnx)

    a, b = _read(torch_map.probability_path), _read(onnx_map.probability_path)
    assert (a == 255).sum() > 0 and ((a == 255) == (b == 255)).all()  # nodata where it was
    assert np.abs(a - b).max() <= 1 and a[a != 255].std() > 2  # a map that varies, matched
    (graph,) = _onnx_files(model)
    written = graph.stat().st_mtime_ns
    predict_scene(model, paths, tmp_path / "again.tif", config=onnx)
    assert _onnx_files(model) == [graph] and graph.stat().st_mtime_ns == written


def test_a_short_prediction_does_not_pay_for_an_export(tmp_path):
    scene = make_scene(tmp_path / "scene", size=96, seed=5)
    model = write_model_dir(tmp_path / "model")
    predict_scene(
        model, [scene.image, scene.dem], tmp_path / "p.tif", config=InferenceConfig(device="cpu")
    )
    (entry,) = json.loads((model / PLAN_FILE).read_text()).values()
    assert entry["runtime"] == "torch" and not entry["onnx_checked"]
    assert _onnx_files(model) == []


def test_a_long_prediction_times_onnxruntime_once_and_the_plan_keeps_the_answer(model):
    first = Predictor(model, InferenceConfig(device="cpu"))
    # As if PyTorch were very slow here: then ONNX Runtime is faster, and enough chips
    # are asked for to pay for the export.
    first.forward_choice = type(first.forward_choice)(
        first.forward_choice.batch_size, False, "probe", chips_per_s=1e-3
    )
    started = []
    first.consider_onnxruntime(chips=10, on_start=lambda: started.append(True))
    assert started == [True]  # a job can say why it pauses
    assert first.forward_choice.runtime == "onnxruntime" and first.onnx is not None
    (entry,) = json.loads((model / PLAN_FILE).read_text()).values()
    assert entry["runtime"] == "onnxruntime" and entry["onnx_checked"]

    later = Predictor(model, InferenceConfig(device="cpu"))
    assert later.forward_choice.source == "cached probe" and later.onnx is not None
    x = torch.rand(2, 4, 64, 64)
    with torch.inference_mode():
        expected = torch.sigmoid(later.model(x)[:, 0])
    assert torch.allclose(later.forward(x), expected, atol=2 / 254)
    later.consider_onnxruntime(chips=10**6, on_start=lambda: started.append(True))
    assert started == [True] and len(_onnx_files(model)) == 1  # asked before: not timed again

    kept = Predictor(model, InferenceConfig(device="cpu", runtime="torch"))
    assert kept.onnx is None  # a runtime the user gives wins over the plan


def test_a_plan_whose_graph_cannot_run_here_falls_back_to_pytorch_unless_asked_by_name(model):
    plan_says_onnx = Predictor(model, InferenceConfig(device="cpu"))
    plan_says_onnx.forward_choice = type(plan_says_onnx.forward_choice)(
        plan_says_onnx.forward_choice.batch_size, False, "probe", chips_per_s=1e-3
    )
    plan_says_onnx.consider_onnxruntime(chips=10)
    assert plan_says_onnx.forward_choice.runtime == "onnxruntime"
    (graph,) = _onnx_files(model)
    graph.unlink()
    graph.mkdir()  # a graph that cannot be read (or written) here

    fallback = Predictor(model, InferenceConfig(device="cpu"))
    assert fallback.onnx is None and fallback.forward_choice.runtime == "torch"
    x = torch.rand(2, 4, 64, 64)
    assert fallback.forward(x).shape == (2, 64, 64)
    with pytest.raises(MlcoreError, match="cannot run in ONNX Runtime"):
        Predictor(model, InferenceConfig(device="cpu", runtime="onnxruntime"))


def test_onnxruntime_with_amp_is_refused(model):
    with pytest.raises(MlcoreError, match="float32"):
        Predictor(model, InferenceConfig(device="cpu", runtime="onnxruntime", amp=True))


def test_an_unknown_runtime_is_refused_with_the_choices(tmp_path):
    model = write_model_dir(tmp_path / "model")
    with pytest.raises(MlcoreError, match="torch, onnxruntime"):
        Predictor(model, InferenceConfig(device="cpu", runtime="tensorrt"))


def test_the_cli_runs_onnxruntime_when_asked(model, tmp_path, capsys):
    scene = make_scene(tmp_path / "scene", size=96, seed=5)
    code = run_predict(
        [
            "--model", str(model),
            "--scene", f"{scene.image},{scene.dem}",
            "--out", str(tmp_path / "prob.tif"),
            "--polygons", str(tmp_path / "slides.gpkg"),
            "--runtime", "onnxruntime",
            "--device", "cpu",
        ]
    )  # fmt: skip
    assert code == 0 and len(_onnx_files(model)) == 1
    assert "polygons at threshold" in capsys.readouterr().out
    assert _read(tmp_path / "prob.tif").std() > 2


def test_a_plan_whose_graph_is_gone_predicts_in_pytorch_without_exporting_again(model):
    first = Predictor(model, InferenceConfig(device="cpu"))
    first.forward_choice = type(first.forward_choice)(
        first.forward_choice.batch_size, False, "probe", chips_per_s=1e-3
    )
    first.consider_onnxruntime(chips=10)
    (graph,) = _onnx_files(model)
    graph.unlink()  # e.g. a split run's worker on a copy of the directory without it

    worker = Predictor(model, InferenceConfig(device="cpu"))
    assert worker.onnx is None and worker.forward_choice.runtime == "torch"
    assert _onnx_files(model) == []  # no silent export in the worker
