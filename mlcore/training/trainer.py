"""The training loop: chips in, a model directory out, resumable and cancellable.

`train` writes a checkpoint after every epoch (and when cancelled) and, when
started again on the same directory, continues from the last one. The chips
of an epoch depend only on the seed and the epoch, and the RNG state travels
in the checkpoint, so a resumed run retraces an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import (
    load_checkpoint,
    recover_checkpoint,
    save_checkpoint,
    sidecar_path,
)
from mlcore.modeldir.directory import (
    BEST,
    CONFIG,
    CURVES,
    FORMAT,
    LAST,
    METRICS,
    load_model,
    plot_curves,
    write_json,
)
from mlcore.models.registry import build_model
from mlcore.training.config import (
    EpochReport,
    TrainConfig,
    TrainResult,
    amp_dtype_for,
    lr_factor,
    resolve_device,
    sweep,
)
from mlcore.training.losses import IGNORE, get_loss

__all__ = ["EpochReport", "TrainConfig", "TrainResult", "TrainingCancelled", "train"]

_BINS = 100  # threshold sweep resolution: 0.01


class TrainingCancelled(Exception):  # noqa: N818 - reads as what happened
    """should_stop() asked to stop; the state was saved and a resume continues from it."""


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


def make_loader(dataset, sampler, config: TrainConfig, device: torch.device, drop_last: bool):
    extra: dict[str, Any] = {}
    if config.num_workers:
        # Spawned workers on CUDA: a process that touched CUDA must not fork.
        context = "spawn" if device.type == "cuda" else None
        extra = {
            "persistent_workers": True,
            "prefetch_factor": 4,
            "multiprocessing_context": context,
        }
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        drop_last=drop_last,
        generator=torch.Generator(),  # keeps the global RNG untouched by loader seeding
        **extra,
    )


def _fingerprint(config: TrainConfig, spec: InputSpec) -> dict[str, Any]:
    return {"model": config.model.to_dict(), "chip_size": config.chip_size, "input": spec.to_dict()}


def _clear(out_dir: Path) -> None:
    for name in (LAST, BEST, CONFIG, METRICS, CURVES):
        for path in (out_dir / name, sidecar_path(out_dir / name), out_dir / f"{name}.pending"):
            path.unlink(missing_ok=True)


def _resume_state(out_dir: Path) -> dict[str, Any] | None:
    sha = recover_checkpoint(out_dir / LAST)
    return None if sha is None else load_checkpoint(out_dir / LAST, expected_sha256=sha)


class Trainer:
    """The state of one training run between epochs and batches, and how to save it.

    `train` is the way in; the bench drives `train_step` directly to time the model alone.
    """

    def __init__(
        self,
        config: TrainConfig,
        data: TrainingData,
        out_dir: Path,
        *,
        init: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.config, self.data, self.out_dir = config, data, out_dir
        self.device = device = resolve_device(config.device)
        self.amp_dtype = amp_dtype = amp_dtype_for(config, device)
        self.fingerprint = _fingerprint(config, data.spec)
        torch.manual_seed(config.seed)
        self.model = build_model(config.model)
        if init is not None:
            self.model.load_state_dict(init)
        self.model.to(device)
        if device.type == "cuda":
            self.model.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.steps = config.chips_per_epoch // config.batch_size
        factor = lr_factor(config.schedule, config.epochs * self.steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
        self.loss_fn = get_loss(config.loss)
        self.epoch, self.step, self.loss_sum = 0, 0, torch.zeros((), device=device)
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.best_sha, self.bad_epochs, self.stopped_early = "", 0, False

    def _state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "loss_sum": float(self.loss_sum),
            "history": self.history,
            "best": self.best,
            "best_sha": self.best_sha,
            "bad_epochs": self.bad_epochs,
            "stopped_early": self.stopped_early,
            "rng": rng,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.loss_sum = torch.tensor(state["loss_sum"], device=self.device)
        self.history, self.best = state["history"], state["best"]
        self.best_sha, self.bad_epochs = state["best_sha"], state["bad_epochs"]
        self.stopped_early = state["stopped_early"]
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])

    def _cancel(self) -> None:
        save_checkpoint(self._state(), self.out_dir / LAST)
        raise TrainingCancelled(
            f"Training stopped in epoch {self.epoch + 1} after {self.step} batches; "
            "its state is saved and a resume continues from there."
        )

    def _forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if self.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        dtype = self.amp_dtype or torch.bfloat16
        with torch.autocast(self.device.type, dtype=dtype, enabled=self.amp_dtype is not None):
            return self.model(images)

    def _train_epoch(self, loader: DataLoader, should_stop) -> None:
        self.data.sampler.set_epoch(self.epoch, start=self.step * self.config.batch_size)
        self.model.train()
        if self.step >= self.steps:
            return
        for images, targets in loader:
            self.loss_sum += self.train_step(images, targets)
            self.step += 1
            if should_stop and should_stop():
                self._cancel()

    def train_step(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One optimiser step on a batch; returns the detached loss (no device sync)."""
        loss = self.loss_fn(self._forward(images), targets.to(self.device, non_blocking=True))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach()

    @torch.no_grad()
    def _validate(self, loader: DataLoader, should_stop) -> dict[str, float]:
        self.model.eval()
        pos = torch.zeros(_BINS, dtype=torch.long, device=self.device)
        neg = torch.zeros_like(pos)
        loss_sum, batches = torch.zeros((), device=self.device), 0
        for images, targets in loader:
            if should_stop and should_stop():
                self._cancel()
            targets = targets.to(self.device, non_blocking=True)
            logits = self._forward(images)
            loss_sum += self.loss_fn(logits, targets)
            batches += 1
            keep = targets != IGNORE
            bins = (torch.sigmoid(logits.float())[:, 0][keep] * _BINS).long().clamp_(0, _BINS - 1)
            positive = targets[keep] == 1
            pos += torch.bincount(bins[positive], minlength=_BINS)
            neg += torch.bincount(bins[~positive], minlength=_BINS)
        scores = sweep(pos.cpu().numpy(), neg.cpu().numpy())
        scores["val_loss"] = float(loss_sum) / max(1, batches)
        return scores

    def _finish_epoch(self, scores: dict[str, float], seconds: float) -> EpochReport:
        self.epoch += 1
        report = EpochReport(
            epoch=self.epoch,
            epochs=self.config.epochs,
            train_loss=float(self.loss_sum) / self.steps,
            lr=self.optimizer.param_groups[0]["lr"],
            seconds=round(seconds, 2),
            **scores,
        )
        self.step, self.loss_sum = 0, torch.zeros((), device=self.device)
        report.improved = (
            self.best is None
            or self.config.keep == "last"
            or report.best_f1 > self.best["best_f1"] + 1e-6
        )
        self.history.append(report.to_dict())
        if report.improved:
            self.best, self.bad_epochs = report.to_dict(), 0
            weights = {"format": FORMAT, "epoch": self.epoch, "model": self.model.state_dict()}
            self.best_sha = save_checkpoint(weights, self.out_dir / BEST)
        else:
            self.bad_epochs += 1
        patience = self.config.early_stopping_patience
        self.stopped_early = bool(patience) and self.bad_epochs >= patience
        self._write_config()
        save_checkpoint(self._state(), self.out_dir / LAST)
        write_json(
            self.out_dir / METRICS,
            {"history": self.history, "best": self.best, "stopped_early": self.stopped_early},
        )
        plot_curves(self.history, self.out_dir / CURVES)
        return report

    def _write_config(self) -> None:
        best = self.best or {}
        write_json(
            self.out_dir / CONFIG,
            {
                "format": FORMAT,
                "model": self.config.model.to_dict(),
                "input": self.data.spec.to_dict(),
                "chip_size": self.config.chip_size,
                "threshold": best.get("best_threshold", 0.5),
                "best_epoch": best.get("epoch"),
                "checkpoint": {"file": BEST, "sha256": self.best_sha} if self.best_sha else None,
                "metrics": best,
                "train": self.config.to_dict(),
                "scenes": {
                    "train": [s.scene.name for s in self.data.train.scenes],
                    "validation": [s.scene.name for s in self.data.val.scenes],
                },
            },
        )

    def fit(self, state, *, on_epoch, should_stop) -> TrainResult:
        if state:
            self._restore(state)
        else:
            self._write_config()
        cfg, data = self.config, self.data
        train_loader = make_loader(data.train, data.sampler, cfg, self.device, drop_last=True)
        val_loader = make_loader(data.val, data.val_refs, cfg, self.device, drop_last=False)
        while self.epoch < cfg.epochs and not self.stopped_early:
            started = time.monotonic()
            self._train_epoch(train_loader, should_stop)
            report = self._finish_epoch(
                self._validate(val_loader, should_stop), time.monotonic() - started
            )
            if on_epoch:
                on_epoch(report)
        best = self.best or {}
        return TrainResult(
            out_dir=self.out_dir,
            epochs_run=self.epoch,
            best_epoch=best.get("epoch", 0),
            best_f1=best.get("best_f1", 0.0),
            best_threshold=best.get("best_threshold", 0.5),
            stopped_early=self.stopped_early,
            checkpoint_sha256=self.best_sha,
            history=self.history,
        )


def train(
    config: TrainConfig,
    train_data: Sequence[LabelledScene],
    val_data: Sequence[LabelledScene],
    out_dir: str | Path,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train on the train extents of `train_data`, validate on the validation extents of `val_data`.

    Both are lists of LabelledScene (often the same list). Resumes from
    `out_dir`'s last checkpoint when `resume`; otherwise clears the directory.
    Raises TrainingCancelled (state saved) when `should_stop()` turns true.
    """
    config.validate()
    amp_dtype_for(config, resolve_device(config.device))  # refuse a wrong device before reading
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        _clear(out_dir)
    state = _resume_state(out_dir) if resume else None
    spec = InputSpec.from_dict(state["fingerprint"]["input"]) if state else None
    data = prepare_data(config, train_data, val_data, spec)
    if state and state["fingerprint"] != _fingerprint(config, data.spec):
        raise MlcoreError(
            f"{out_dir} holds a training with another model, chip size or input bands; "
            "use a new output directory, or start over without resuming."
        )
    init = load_model(config.init_from)[0].state_dict() if config.init_from and not state else None
    run = Trainer(config, data, out_dir, init=init)
    try:
        return run.fit(state, on_epoch=on_epoch, should_stop=should_stop)
    finally:
        data.train.close()
        data.val.close()
