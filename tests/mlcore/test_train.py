"""The training loop learns, checkpoints every epoch, resumes, and cancels cleanly."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal

import pytest
import torch

from mlcore.data import SceneSpec, label_scenes, read_vector
from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import read_sidecar
from mlcore.modeldir.directory import load_model
from mlcore.models.registry import ModelConfig
from mlcore.training.segmentation import TrainConfig, TrainingCancelled, train
from mlcore.training.tuning import tune_on_validation
from tests.factories.landslide_scenes import make_scene

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    synthetic = make_scene(tmp_path_factory.mktemp("train") / "scene")
    return label_scenes(
        [SceneSpec([synthetic.image, synthetic.dem])],
        [read_vector(synthetic.landslides)],
        [read_vector(synthetic.extents)],
    )


def _config(**changes) -> TrainConfig:
    model = ModelConfig(
        arch="unet", encoder="none", in_channels=4, encoder_depth=3, base_channels=8
    )
    settings = dict(
        model=model,
        epochs=2,
        batch_size=8,
        chip_size=64,
        lr=3e-3,
        chips_per_epoch=96,
        num_workers=0,
        device="cpu",
    )
    return TrainConfig(**{**settings, **changes})


def test_two_short_epochs_learn_landslide_shapes(scenes, tmp_path):
    reports = []
    result = train(_config(), scenes, scenes, tmp_path, on_epoch=reports.append)
    assert [r.epoch for r in reports] == [1, 2]
    assert reports[1].train_loss < reports[0].train_loss
    assert result.best_f1 > 0.8
    for name in ("config.json", "metrics.json", "curves.png", "best.pt", "last.pt"):
        assert (tmp_path / name).exists()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["input"]["bands"] == ["red", "green", "blue", "dem"]
    assert config["threshold"] == result.best_threshold
    assert config["checkpoint"]["sha256"] == read_sidecar(tmp_path / "best.pt")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]


def test_the_trained_model_loads_for_prediction(scenes, tmp_path):
    train(_config(epochs=1), scenes, scenes, tmp_path)
    model, config, meta = load_model(tmp_path)
    assert not model.training and config.in_channels == 4
    assert meta["input"].channels == ["red", "green", "blue", "dem"] and meta["chip_size"] == 64
    assert model(torch.zeros(1, 4, 64, 64)).shape == (1, 1, 64, 64)


def test_a_second_call_resumes_at_the_next_epoch(scenes, tmp_path):
    train(_config(epochs=1), scenes, scenes, tmp_path)
    seen = []
    result = train(_config(epochs=2), scenes, scenes, tmp_path, on_epoch=seen.append)
    assert [r.epoch for r in seen] == [2]
    assert [h["epoch"] for h in result.history] == [1, 2]


def test_a_cancelled_run_resumes_to_the_same_weights_as_an_uninterrupted_one(scenes, tmp_path):
    config = _config(epochs=2, chips_per_epoch=48)
    train(config, scenes, scenes, tmp_path / "straight")

    batches = iter(range(100))
    with pytest.raises(TrainingCancelled, match="in epoch 1 after 3 batches"):
        train(config, scenes, scenes, tmp_path / "split", should_stop=lambda: next(batches) >= 2)
    (tmp_path / "split" / "last.pt.pending").write_bytes(b"half-written by a crash")
    train(config, scenes, scenes, tmp_path / "split")

    straight, _, _ = load_model(tmp_path / "straight")
    resumed, _, _ = load_model(tmp_path / "split")
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    history = [
        json.loads((tmp_path / d / "metrics.json").read_text())["history"]
        for d in ("straight", "split")
    ]
    assert [h["best_f1"] for h in history[0]] == [h["best_f1"] for h in history[1]]


def _killed_in_epoch_two(scenes, out_dir):
    batches = iter(range(100))

    def die_mid_epoch_two() -> bool:
        if next(batches) == 8:  # epoch 1 has 6 batches and 2 validation batches
            os.kill(os.getpid(), signal.SIGKILL)
        return False

    train(_config(chips_per_epoch=48), scenes, scenes, out_dir, should_stop=die_mid_epoch_two)


def test_a_run_killed_mid_epoch_resumes_from_its_last_checkpoint(scenes, tmp_path):
    # spawn, not fork: forking a process whose other threads hold locks (torch's
    # pool, a browser driver in the same test session) can deadlock the child.
    worker = multiprocessing.get_context("spawn").Process(
        target=_killed_in_epoch_two, args=(scenes, tmp_path)
    )
    worker.start()
    worker.join(timeout=300)
    if worker.is_alive():
        worker.kill()
        pytest.fail("The training process neither finished nor was killed within 300 s.")
    assert worker.exitcode == -signal.SIGKILL
    assert [h["epoch"] for h in json.loads((tmp_path / "metrics.json").read_text())["history"]] == [
        1
    ]
    seen = []
    result = train(_config(chips_per_epoch=48), scenes, scenes, tmp_path, on_epoch=seen.append)
    assert [r.epoch for r in seen] == [2]
    assert [h["epoch"] for h in result.history] == [1, 2]


def test_a_finished_run_called_again_does_nothing(scenes, tmp_path):
    train(_config(epochs=1), scenes, scenes, tmp_path)
    seen = []
    assert train(_config(epochs=1), scenes, scenes, tmp_path, on_epoch=seen.append).epochs_run == 1
    assert seen == []


def test_resuming_a_different_model_is_refused(scenes, tmp_path):
    train(_config(epochs=1), scenes, scenes, tmp_path)
    other = _config(model=ModelConfig(arch="unet", encoder="none", in_channels=4, encoder_depth=2))
    with pytest.raises(MlcoreError, match="another model"):
        train(other, scenes, scenes, tmp_path)


def test_a_model_with_the_wrong_band_count_is_refused(scenes, tmp_path):
    config = _config(model=ModelConfig(arch="unet", encoder="none", in_channels=3))
    with pytest.raises(MlcoreError, match="takes 3 input bands but the scenes give 4"):
        train(config, scenes, scenes, tmp_path)


def test_cuda_without_a_gpu_is_an_error_not_a_fallback(scenes, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(MlcoreError, match="no CUDA GPU"):
        train(_config(device="cuda"), scenes, scenes, tmp_path)


def test_mixed_precision_on_the_cpu_is_refused(scenes, tmp_path):
    with pytest.raises(MlcoreError, match="CUDA only"):
        train(_config(amp=True), scenes, scenes, tmp_path)


def test_a_scene_without_train_extents_is_refused(scenes, tmp_path):
    (scene,) = scenes
    validation_only = [
        type(scene)(scene.scene, scene.landslides, {"validation": scene.extents["validation"]})
    ]
    with pytest.raises(MlcoreError, match="No train extent overlaps any scene"):
        train(_config(), validation_only, validation_only, tmp_path)


def test_retraining_starts_from_the_parent_weights(scenes, tmp_path):
    parent = train(_config(epochs=1), scenes, scenes, tmp_path / "parent")
    child = train(
        _config(epochs=1, lr=1e-9, init_from=tmp_path / "parent"),
        scenes,
        scenes,
        tmp_path / "child",
    )
    assert child.best_f1 == pytest.approx(parent.best_f1, abs=0.05)


def test_a_stop_while_the_post_processing_is_chosen_ends_it_and_keeps_the_weights(scenes, tmp_path):
    """Choosing the polygon settings maps the validation scenes (4x with flips): a stop asked
    for then ends the mapping at the next batch, says where it stopped, and saves no choice.

    The stop is asked from the first batch on: how many batches a small validation scene
    takes depends on the batch size this machine's forward plan picks."""
    train(_config(epochs=1, chips_per_epoch=16), scenes, scenes, tmp_path / "model")
    asked = []
    with pytest.raises(TrainingCancelled, match="while choosing the post-processing"):
        tune_on_validation(
            tmp_path / "model", scenes, device="cpu", should_stop=lambda: asked.append(1) or True
        )
    assert asked  # the mapping itself asked, not a check before it
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert "postprocess" not in config
    assert load_model(tmp_path / "model")[0] is not None  # the trained weights are there


def test_every_training_batch_is_heard_with_its_place_and_running_loss(scenes, tmp_path):
    """What a job shows between epochs: after each batch, the epoch and batch reached."""
    heard = []
    train(
        _config(epochs=2, chips_per_epoch=16, batch_size=4),
        scenes,
        scenes,
        tmp_path / "model",
        on_batch=lambda p: heard.append((p.epoch, p.step, p.steps, p.fraction, p.running_loss())),
    )
    assert [(e, s) for e, s, *_ in heard] == [(1, 1), (1, 2), (1, 3), (1, 4),
                                             (2, 1), (2, 2), (2, 3), (2, 4)]  # fmt: skip
    assert {steps for _, _, steps, _, _ in heard} == {4}
    fractions = [f for *_, f, _ in heard]
    assert fractions == sorted(fractions) and fractions[0] == 1 / 8 and fractions[-1] == 1.0
    assert all(loss > 0 and loss == loss for *_, loss in heard)  # finite, not NaN
