"""Training a segmentation model: chips in, a model directory out, resumable and cancellable.

`SegmentationTask` is what the one loop (`mlcore.training.trainer`) needs for the
semantic and change-detection families: the chips of the train and
validation extents, the network, the loss, the per-pixel validation sweep and
what config.json records. `train` runs it; a second call on the same
directory continues from the last checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

import torch
from torch.utils.data import DataLoader

from mlcore.data import (
    ChipDataset,
    ChipSampler,
    InputSpec,
    LabelledScene,
    SceneError,
    SplitGrid,
    StackedScene,
    compute_input_spec,
    grid_refs,
)
from mlcore.data.bands import check_derivable
from mlcore.device import amp_dtype, check_amp, resolve_device
from mlcore.errors import MlcoreError
from mlcore.evaluation.metrics import sweep
from mlcore.modeldir.directory import load_model, write_config
from mlcore.models.registry import CHANGE, SEMANTIC, build_model, family_of
from mlcore.training.config import EpochReport, TrainConfig, TrainResult
from mlcore.training.losses import IGNORE, get_loss
from mlcore.training.trainer import (
    EpochOutcome,
    RunOptions,
    Task,
    Trainer,
    TrainingCancelled,
    make_loader,
    run_task,
)

__all__ = [
    "EpochReport",
    "SegmentationTask",
    "TrainConfig",
    "TrainResult",
    "TrainingCancelled",
    "prepare_data",
    "train",
]

_BINS = 100  # threshold sweep resolution: 0.01


@dataclass
class TrainingData:
    """Everything `Trainer` reads: the input spec, the datasets and where their chips lie."""

    spec: InputSpec
    train: ChipDataset
    sampler: ChipSampler
    val: ChipDataset
    val_refs: list


def _grids(
    scenes: Sequence[LabelledScene], split: str, chip: int, bands: list[str] | None, scale: int
):
    grids = []
    for labelled in scenes:
        with StackedScene(labelled.scene, scale) as scene:
            if bands is not None and scene.band_names != bands:
                raise SceneError(
                    f"Scene {labelled.scene.name} has bands {scene.band_names}, but the first "
                    f"scene has {bands}; every scene needs the same bands in the same order."
                )
            bands = scene.band_names
            grid = SplitGrid(
                labelled,
                split,
                transform=scene.transform,
                width=scene.width,
                height=scene.height,
                chip_size=chip,
            )
        grids.append(grid)
    return grids, bands


def prepare_data(
    config: TrainConfig,
    train_data: Sequence[LabelledScene],
    val_data: Sequence[LabelledScene],
    spec: InputSpec | None = None,
) -> TrainingData:
    """Check the scenes, fix the normalisation (unless `spec` is given), and plan the chips.

    Statistics come from the scenes that hold train extents only, so nothing
    about validation imagery leaks into the model.
    """
    for split, scenes in (("train", train_data), ("validation", val_data)):
        if not any(s.extent_of(split) for s in scenes):
            raise MlcoreError(
                f"No {split} extent overlaps any scene; mark mapped extents with split "
                f"'{split}' over the scenes (check the CRS of the extents file)."
            )
    scale = config.scale if spec is None else spec.scale
    train_grids, bands = _grids(train_data, "train", config.chip_size, None, scale)
    val_grids, _ = _grids(val_data, "validation", config.chip_size, bands, scale)
    check_derivable(config.derived_bands, bands)
    unknown = sorted(set(config.dropped_bands) - set(bands))
    if unknown:
        raise SceneError(f"Bands {unknown} cannot be left out: the scenes have {bands}.")
    if spec is None:
        scenes = [StackedScene(s.scene, scale) for s in train_data if s.extent_of("train")]
        try:
            spec = compute_input_spec(
                scenes, config.derived_bands, dropped=config.dropped_bands, seed=config.seed
            )
        finally:
            for scene in scenes:
                scene.close()
    if list(spec.bands) != bands:
        raise SceneError(
            f"The model was trained on bands {list(spec.bands)} but the scenes give {bands}."
        )
    if len(spec.channels) != config.model.in_channels:
        raise SceneError(
            f"The model takes {config.model.in_channels} input bands but the scenes give "
            f"{len(spec.channels)} ({', '.join(spec.channels)})."
        )
    steps = config.chips_per_epoch // config.batch_size
    sampler = ChipSampler(
        train_grids,
        steps * config.batch_size,
        seed=config.seed,
        positive_fraction=config.positive_fraction,
        min_coverage=config.min_coverage,
    )
    if not sampler.available:
        raise MlcoreError(
            f"No training chip of {config.chip_size} px fits: a chip must lie in a scene, be at "
            f"least {config.min_coverage:.0%} inside train extents and touch no validation or "
            "test extent. Use a smaller chip size or larger train extents."
        )
    val_refs = grid_refs(val_grids, config.val_stride or config.chip_size)
    if config.max_val_chips and len(val_refs) > config.max_val_chips:
        step = len(val_refs) / config.max_val_chips  # an even, fixed subset: same every epoch
        val_refs = [val_refs[int(i * step)] for i in range(config.max_val_chips)]
    if not val_refs:
        raise MlcoreError(
            f"No validation chip of {config.chip_size} px fits inside a scene without touching "
            "a train or test extent; use a smaller chip size or larger validation extents."
        )
    train = ChipDataset(
        train_data, "train", spec, config.chip_size, augment=True, jitter=config.jitter
    )
    val = ChipDataset(val_data, "validation", spec, config.chip_size)
    return TrainingData(spec, train, sampler, val, val_refs)


def _fingerprint(config: TrainConfig, spec: InputSpec) -> dict[str, Any]:
    return {"model": config.model.to_dict(), "chip_size": config.chip_size, "input": spec.to_dict()}


class SegmentationTask(Task):
    """A mask per chip, scored per pixel: the semantic and change-detection families.

    `loss` is the one place a batch's loss is computed, for training and
    validation alike.
    """

    kinds = (SEMANTIC, CHANGE)
    way = "mlcore.training.segmentation.train"
    plots_curves = True

    def __init__(
        self,
        config: TrainConfig,
        train_data: Sequence[LabelledScene],
        val_data: Sequence[LabelledScene],
    ) -> None:
        self.config, self.train_data, self.val_data = config, train_data, val_data
        self.schedule, self.patience = config.schedule, config.early_stopping_patience
        self.loss_fn = get_loss(config.loss)
        self.data: TrainingData | None = None
        self._val_loader: DataLoader | None = None

    def check(self) -> None:
        config = self.config.validate()
        family = family_of(config.model.arch)
        if family.kind not in self.kinds:
            raise MlcoreError(
                f"{self.way} trains {' and '.join(self.kinds)} models, and {family.name} is "
                f"a {family.kind} model; train it with mlcore.training.tuning.train_and_tune, "
                "which picks train or mlcore.training.instances.train_instances by the family."
            )
        check_amp(config.amp, resolve_device(config.device))  # a wrong device, before reading

    def prepare(self, state: dict[str, Any] | None) -> None:
        spec = InputSpec.from_dict(state["fingerprint"]["input"]) if state else None
        self.data = data = prepare_data(self.config, self.train_data, self.val_data, spec)
        self.train_set, self.sampler = data.train, data.sampler
        self.fingerprint = _fingerprint(self.config, data.spec)

    def build_model(self) -> torch.nn.Module:
        return build_model(self.config.model)

    def initial_weights(self) -> dict[str, torch.Tensor] | None:
        init_from = self.config.init_from
        return load_model(init_from)[0].state_dict() if init_from else None

    def amp_dtype(self, device: torch.device) -> torch.dtype | None:
        return amp_dtype(self.config.amp, device)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(logits, targets)

    def training_loss(self, trainer: Trainer, batch: Any) -> torch.Tensor:
        images, targets = batch
        return self.loss(trainer.forward(images), trainer.to_device(targets))

    @torch.no_grad()
    def validate(self, trainer: Trainer, check_stop: Callable[[], None]) -> dict[str, float]:
        data, device = self.data, trainer.device
        if self._val_loader is None:
            self._val_loader = make_loader(
                data.val, data.val_refs, self.config, device, drop_last=False
            )
        trainer.model.eval()
        pos = torch.zeros(_BINS, dtype=torch.long, device=device)
        neg = torch.zeros_like(pos)
        loss_sum, batches = torch.zeros((), device=device), 0
        for images, targets in self._val_loader:
            check_stop()
            targets = trainer.to_device(targets)
            logits = trainer.forward(images)
            loss_sum += self.loss(logits, targets)
            batches += 1
            keep = targets != IGNORE
            bins = (torch.sigmoid(logits.float())[:, 0][keep] * _BINS).long().clamp_(0, _BINS - 1)
            positive = targets[keep] == 1
            pos += torch.bincount(bins[positive], minlength=_BINS)
            neg += torch.bincount(bins[~positive], minlength=_BINS)
        scores = sweep(pos.cpu().numpy(), neg.cpu().numpy())
        scores["val_loss"] = float(loss_sum) / max(1, batches)
        return scores

    def epoch_outcome(self, figures: dict[str, Any], best: dict[str, Any] | None) -> EpochOutcome:
        report = EpochReport(**figures)
        report.improved = (
            best is None or self.config.keep == "last" or report.best_f1 > best["best_f1"] + 1e-6
        )
        return EpochOutcome(report, report.to_dict(), report.improved)

    def write_config(self, out_dir: Path, best: dict[str, Any] | None, best_sha: str) -> None:
        best = best or {}
        write_config(
            out_dir,
            model=self.config.model,
            spec=self.data.spec,
            chip_size=self.config.chip_size,
            threshold=best.get("best_threshold", 0.5),
            best_epoch=best.get("epoch"),
            checkpoint_sha256=best_sha,
            metrics=best,
            train=self.config.to_dict(),
            scenes={
                "train": [s.scene.name for s in self.data.train.scenes],
                "validation": [s.scene.name for s in self.data.val.scenes],
            },
        )

    def metrics(
        self, history: list[dict[str, Any]], best: dict[str, Any] | None, stopped_early: bool
    ) -> dict[str, Any]:
        return {"history": history, "best": best, "stopped_early": stopped_early}

    def result(self, trainer: Trainer) -> TrainResult:
        best = trainer.best or {}
        return TrainResult(
            out_dir=trainer.out_dir,
            epochs_run=trainer.epoch,
            best_epoch=best.get("epoch", 0),
            best_f1=best.get("best_f1", 0.0),
            best_threshold=best.get("best_threshold", 0.5),
            stopped_early=trainer.stopped_early,
            checkpoint_sha256=trainer.best_sha,
            history=trainer.history,
        )

    def close(self) -> None:
        if self.data is not None:
            self.train_set.close()
            self.data.val.close()


def train(
    config: TrainConfig,
    train_data: Sequence[LabelledScene],
    val_data: Sequence[LabelledScene],
    out_dir: str | Path,
    **options: Unpack[RunOptions],
) -> TrainResult:
    """Train on the train extents of `train_data`, validate on the validation extents of `val_data`.

    Both are lists of LabelledScene (often the same list). Resumes from
    `out_dir`'s last checkpoint when `resume`; otherwise clears the directory.
    Raises TrainingCancelled (state saved) when `should_stop()` turns true.
    """
    return run_task(SegmentationTask(config, train_data, val_data), out_dir, **options)
