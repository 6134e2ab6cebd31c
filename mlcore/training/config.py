"""What a training run is asked (TrainConfig) and what it answers (EpochReport, TrainResult).

Kept apart from the loop so the web app can build, validate and store a
configuration without importing the training machinery's state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

# resolve_device and sweep are re-exported for the callers that import them from here.
from mlcore.device import amp_dtype, check_amp
from mlcore.device import resolve_device as resolve_device
from mlcore.errors import MlcoreError
from mlcore.evaluation.metrics import sweep as sweep
from mlcore.models.registry import ModelConfig
from mlcore.training.losses import LOSSES

SCHEDULES = ("cosine", "onecycle", "constant")
# Scene pixels a side per model pixel: beyond 16 (8 m of 0.5 m imagery) landslides vanish.
MAX_SCALE = 16


@dataclass(kw_only=True)
class TrainConfig:
    """Hyper-parameters of one training run; `model.in_channels` must match the input bands.

    `amp` None means mixed precision on CUDA; `device` "cuda" without a GPU
    is an error, never a quiet fallback to the CPU. `init_from` is a model
    directory whose best weights start the run (retraining a parent).
    `max_val_chips` caps validation to a fixed, even subset of its grid, so
    that epochs over a vast validation extent stay short.
    """

    model: ModelConfig
    epochs: int = 20
    batch_size: int = 8
    chip_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    loss: str = "bce_dice"
    schedule: str = "cosine"
    seed: int = 0
    chips_per_epoch: int = 1024
    val_stride: int | None = None
    max_val_chips: int | None = None
    early_stopping_patience: int | None = 5
    positive_fraction: float = 0.5
    min_coverage: float = 0.5
    derived_bands: tuple[str, ...] = ()
    # Source bands read only to derive others (absolute elevation): not network inputs.
    dropped_bands: tuple[str, ...] = ()
    # The model's grid: the scene's pixels averaged in scale x scale blocks.
    scale: int = 1
    # Choose threshold and polygon clean-up on the validation extents after training.
    tune_postprocess: bool = False
    # Radiometric jitter of the optical bands: contrast and brightness spread.
    jitter: float = 0.1
    # Which weights the model keeps: the best validation epoch's, or the last epoch's.
    # With a small validation extent "best" picks noise (an early, blurry epoch);
    # a cosine schedule's last epoch is the settled one.
    keep: str = "best"
    # Predict with test-time flips (mlcore.predict.predictor): chosen with the recipe and
    # kept in config.json, so the tuning and every later prediction see the same maps.
    tta: bool = False
    num_workers: int = 2
    amp: bool | None = None
    device: str = "auto"
    init_from: Path | None = None
    # What mlcore.training.pretrain.finetune_config found behind init_from; lands in config.json.
    pretraining: dict[str, Any] | None = None

    def validate(self) -> TrainConfig:
        self.model.validate()
        if self.loss not in LOSSES:
            raise MlcoreError(f"Unknown loss {self.loss!r}; choose one of: {', '.join(LOSSES)}.")
        if self.schedule not in SCHEDULES:
            raise MlcoreError(
                f"Unknown schedule {self.schedule!r}; choose one of: {', '.join(SCHEDULES)}."
            )
        if self.epochs < 1 or self.batch_size < 1 or self.chips_per_epoch < self.batch_size:
            raise MlcoreError(
                "Training needs at least one epoch and at least one batch of chips per epoch."
            )
        if self.chip_size < 16 or self.chip_size % 16:
            raise MlcoreError(
                f"The chip size must be a multiple of 16 pixels, not {self.chip_size}."
            )
        if self.model.classes != 1:
            raise MlcoreError("Training maps one class (landslide); set the model's classes to 1.")
        if not 0 <= self.positive_fraction <= 1 or not 0 < self.min_coverage <= 1:
            raise MlcoreError("positive_fraction and min_coverage are fractions between 0 and 1.")
        if not 1 <= self.scale <= MAX_SCALE:
            raise MlcoreError(
                f"The scale is 1 to {MAX_SCALE} source pixels per model pixel, not {self.scale}."
            )
        if self.keep not in ("best", "last"):
            raise MlcoreError(f"keep is 'best' or 'last', not {self.keep!r}.")
        if not 0 <= self.jitter <= 0.5:
            raise MlcoreError(f"The jitter is between 0 and 0.5, not {self.jitter}.")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        out["derived_bands"] = list(self.derived_bands)
        out["dropped_bands"] = list(self.dropped_bands)
        out["init_from"] = str(self.init_from) if self.init_from else None
        return out


@dataclass
class EpochReport:
    """One epoch's figures; scores at threshold 0.5 and at the sweep's best threshold."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    lr: float
    seconds: float
    precision: float
    recall: float
    f1: float
    iou: float
    best_threshold: float
    best_precision: float
    best_recall: float
    best_f1: float
    best_iou: float
    improved: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    out_dir: Path
    epochs_run: int
    best_epoch: int
    best_f1: float
    best_threshold: float
    stopped_early: bool
    checkpoint_sha256: str
    history: list[dict[str, Any]] = field(default_factory=list)
    # What mlcore.training.tuning chose and scored, when the config asked for it.
    postprocess: dict[str, Any] | None = None


def amp_dtype_for(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """Training's precision: amp asked for on the CPU is refused, not ignored (mlcore.device)."""
    check_amp(config.amp, device)
    return amp_dtype(config.amp, device)


def lr_factor(schedule: str, total: int) -> Callable[[int], float]:
    """LR multiplier per step; a closure over `total`, so a resume with more epochs stretches it."""
    warmup = max(1, min(100, total // 20)) if schedule == "cosine" else max(1, int(0.3 * total))

    def factor(step: int) -> float:
        if schedule == "constant":
            return 1.0
        if step < warmup:
            start = 0.04 if schedule == "onecycle" else 0.0
            return start + (1 - start) * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor
