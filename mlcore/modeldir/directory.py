"""A trained model's directory: what training writes and what prediction reads.

config.json    model config, input bands and normalisation, chip size,
               best threshold, best checkpoint name and SHA-256
last.pt        full training state (resume); last.pt.sha256 beside it
best.pt        weights of the best validation epoch; best.pt.sha256
metrics.json   history per epoch and the best epoch
curves.png     loss and F1 per epoch
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from mlcore.atomic import atomic_path, write_atomic
from mlcore.data.bands import InputSpec
from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import CheckpointRefused, load_checkpoint, sidecar_path
from mlcore.models.registry import ModelConfig, build_model

CONFIG = "config.json"
METRICS = "metrics.json"
LAST = "last.pt"
BEST = "best.pt"
CURVES = "curves.png"
FORMAT = "scarp-model/1"


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def write_config(
    model_dir: Path,
    *,
    model: ModelConfig,
    spec: InputSpec,
    chip_size: int,
    threshold: float = 0.5,
    best_epoch: int | None = None,
    checkpoint_sha256: str = "",
    metrics: dict[str, Any] | None = None,
    **sections: Any,
) -> None:
    """Write config.json, the one place that decides its shape.

    Training and pretraining call it after every epoch; `sections` are what
    the kind of run adds (`train` and `scenes`, or `pretraining` and `scenes`).
    No checkpoint yet (before the first epoch) is written as null.
    """
    checkpoint = {"file": BEST, "sha256": checkpoint_sha256} if checkpoint_sha256 else None
    write_json(
        model_dir / CONFIG,
        {
            "format": FORMAT,
            "model": model.to_dict(),
            "input": spec.to_dict(),
            "chip_size": chip_size,
            "threshold": threshold,
            "best_epoch": best_epoch,
            "checkpoint": checkpoint,
            "metrics": metrics or {},
            **sections,
        },
    )


def clear_model_dir(model_dir: Path) -> None:
    """Remove what a training wrote (files, hash sidecars, pending writes), to start over."""
    for name in (LAST, BEST, CONFIG, METRICS, CURVES):
        path = model_dir / name
        for written in (path, sidecar_path(path), path.with_name(f"{name}.pending")):
            written.unlink(missing_ok=True)


def update_config(model_dir: str | Path, **changes: Any) -> dict[str, Any]:
    """Rewrite config.json with `changes` (atomically); steps after training add to it."""
    config = read_config(model_dir)
    config.update(changes)
    write_json(Path(model_dir) / CONFIG, config)
    return config


def read_config(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / CONFIG
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MlcoreError(
            f"{path} is missing or unreadable ({exc}); is it a model directory?"
        ) from None
    if config.get("format") != FORMAT:
        raise MlcoreError(f"{path} is not a Scarp model configuration ({FORMAT}).")
    return config


def load_model(
    model_dir: str | Path, *, expected_sha256: str | None = None
) -> tuple[nn.Module, ModelConfig, dict[str, Any]]:
    """The best network of a model directory, in eval mode on the CPU, with its config.

    `expected_sha256` is the hash the caller recorded (the web app keeps it on
    the ModelVersion); without it, the hash in config.json is trusted. The
    meta dict holds `input` (an InputSpec), `chip_size`, `threshold`,
    `best_epoch` and `metrics` (validation scores of the best epoch).
    """
    model_dir = Path(model_dir)
    config = read_config(model_dir)
    checkpoint = config.get("checkpoint")
    if not checkpoint:
        raise MlcoreError(f"{model_dir} holds no finished epoch yet; train it first.")
    sha = expected_sha256 or checkpoint["sha256"]
    if expected_sha256 and expected_sha256 != checkpoint["sha256"]:
        raise CheckpointRefused(
            f"{model_dir / CONFIG} names checkpoint {checkpoint['sha256'][:12]}…, "
            f"not the recorded {expected_sha256[:12]}…; the directory changed."
        )
    state = load_checkpoint(model_dir / checkpoint["file"], expected_sha256=sha)
    model_config = ModelConfig.from_dict(config["model"])
    model = build_model(model_config)
    model.load_state_dict(state["model"])
    model.eval()
    meta = {
        "input": InputSpec.from_dict(config["input"]),
        "chip_size": config["chip_size"],
        "threshold": config["threshold"],
        "best_epoch": config["best_epoch"],
        "metrics": config.get("metrics", {}),
        "sha256": sha,
    }
    return model, model_config, meta


def plot_curves(history: list[dict], path: Path) -> None:
    """Loss and F1 per epoch, drawn with the Agg backend (no display on a worker)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(9, 3.5))
    FigureCanvasAgg(fig)
    loss_ax, f1_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    loss_ax.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    f1_ax.plot(epochs, [h["f1"] for h in history], "o-", label="F1 at 0.5")
    f1_ax.plot(epochs, [h["best_f1"] for h in history], "o-", label="F1 at best threshold")
    f1_ax.set(xlabel="epoch", ylabel="F1", title="Validation F1", ylim=(0, 1))
    for ax in (loss_ax, f1_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
