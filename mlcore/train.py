"""The training loop: chips in, a model directory out, resumable and cancellable.

`train` writes a checkpoint after every epoch (and when cancelled) and, when
started again on the same directory, continues from the last one. The chips
of an epoch depend only on the seed and the epoch, and the RNG state travels
in the checkpoint, so a resumed run retraces an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from mlcore.checkpoints import load_checkpoint, recover_checkpoint, save_checkpoint, sidecar_path
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
from mlcore.losses import IGNORE, LOSSES, get_loss
from mlcore.modeldir import BEST, CONFIG, CURVES, FORMAT, LAST, METRICS, load_model
from mlcore.modeldir import plot_curves, write_json
from mlcore.models import ModelConfig, build_model

SCHEDULES = ("cosine", "onecycle", "constant")
_BINS = 100  # threshold sweep resolution: 0.01


class TrainingCancelled(Exception):  # noqa: N818 - reads as what happened
    """should_stop() asked to stop; the state was saved and a resume continues from it."""


@dataclass(kw_only=True)
class TrainConfig:
    """Hyper-parameters of one training run; `model.in_channels` must match the input bands.

    `amp` None means mixed precision on CUDA; `device` "cuda" without a GPU
    is an error, never a quiet fallback to the CPU. `init_from` is a model
    directory whose best weights start the run (retraining a parent).
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
    early_stopping_patience: int | None = 5
    positive_fraction: float = 0.5
    min_coverage: float = 0.5
    derived_bands: tuple[str, ...] = ()
    num_workers: int = 2
    amp: bool | None = None
    device: str = "auto"
    init_from: Path | None = None

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
        if not 0 <= self.positive_fraction <= 1 or not 0 < self.min_coverage <= 1:
            raise MlcoreError("positive_fraction and min_coverage are fractions between 0 and 1.")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        out["derived_bands"] = list(self.derived_bands)
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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MlcoreError(
            "Device 'cuda' was asked for but PyTorch sees no CUDA GPU here; "
            "use device 'cpu' or 'auto', or run on a machine with a GPU."
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise MlcoreError(f"Unknown device {name!r}; use auto, cpu or cuda.") from None


def _amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    if config.amp and device.type != "cuda":
        raise MlcoreError("Mixed precision (amp) runs on CUDA only; leave amp unset on the CPU.")
    if config.amp is False or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _lr_factor(schedule: str, total: int) -> Callable[[int], float]:
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


def _scores(tp: float, fp: float, fn: float) -> tuple[float, float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1, iou


def sweep(pos_hist: np.ndarray, neg_hist: np.ndarray) -> dict[str, float]:
    """Scores at 0.5 and at the F1-best threshold, from histograms of probabilities.

    Bin b counts pixels with floor(p * bins) == b, so "p >= b / bins" is "bin >= b".
    """
    tp = pos_hist[::-1].cumsum()[::-1].astype(float)
    fp = neg_hist[::-1].cumsum()[::-1].astype(float)
    fn = pos_hist.sum() - tp
    table = [_scores(tp[b], fp[b], fn[b]) for b in range(len(pos_hist))]
    half = len(pos_hist) // 2
    best = max(range(1, len(pos_hist)), key=lambda b: (table[b][2], -abs(b - half)))
    out = dict(zip(("precision", "recall", "f1", "iou"), table[half], strict=True))
    keys = ("best_precision", "best_recall", "best_f1", "best_iou")
    out.update(zip(keys, table[best], strict=True))
    out["best_threshold"] = best / len(pos_hist)
    return out


@dataclass
class _Data:
    spec: InputSpec
    train: ChipDataset
    sampler: ChipSampler
    val: ChipDataset
    val_refs: list


def _grids(scenes: Sequence[LabelledScene], split: str, chip: int, bands: list[str] | None):
    grids = []
    for labelled in scenes:
        with StackedScene(labelled.scene) as scene:
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


def _prepare_data(config: TrainConfig, train_data, val_data, spec: InputSpec | None) -> _Data:
    for split, scenes in (("train", train_data), ("validation", val_data)):
        if not any(s.extent_of(split) for s in scenes):
            raise MlcoreError(
                f"No {split} extent overlaps any scene; mark mapped extents with split "
                f"'{split}' over the scenes (check the CRS of the extents file)."
            )
    train_grids, bands = _grids(train_data, "train", config.chip_size, None)
    val_grids, _ = _grids(val_data, "validation", config.chip_size, bands)
    check_derivable(config.derived_bands, bands)
    if spec is None:
        scenes = [StackedScene(s.scene) for s in train_data]
        try:
            spec = compute_input_spec(scenes, config.derived_bands, seed=config.seed)
        finally:
            for scene in scenes:
                scene.close()
    if list(spec.bands) != bands or len(spec.channels) != config.model.in_channels:
        raise SceneError(
            f"The model takes {config.model.in_channels} input bands but the scenes give "
            f"{len(bands) + len(config.derived_bands)} ({', '.join([*bands, *config.derived_bands])})."
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
    if not val_refs:
        raise MlcoreError(
            f"No validation chip of {config.chip_size} px fits inside a scene without touching "
            "a train or test extent; use a smaller chip size or larger validation extents."
        )
    train = ChipDataset(train_data, "train", spec, config.chip_size, augment=True)
    val = ChipDataset(val_data, "validation", spec, config.chip_size)
    return _Data(spec, train, sampler, val, val_refs)


def _loader(dataset, sampler, config: TrainConfig, device: torch.device, drop_last: bool):
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


class _Run:
    """The state of one training run between epochs and batches, and how to save it."""

    def __init__(self, config, data: _Data, out_dir: Path, device, amp_dtype, fingerprint, init):
        self.config, self.data, self.out_dir, self.device = config, data, out_dir, device
        self.amp_dtype, self.fingerprint = amp_dtype, fingerprint
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
        factor = _lr_factor(config.schedule, config.epochs * self.steps)
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
            loss = self.loss_fn(self._forward(images), targets.to(self.device, non_blocking=True))
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            self.loss_sum += loss.detach()
            self.step += 1
            if should_stop and should_stop():
                self._cancel()

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
        report.improved = self.best is None or report.best_f1 > self.best["best_f1"] + 1e-6
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
        train_loader = _loader(data.train, data.sampler, cfg, self.device, drop_last=True)
        val_loader = _loader(data.val, data.val_refs, cfg, self.device, drop_last=False)
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
    device = resolve_device(config.device)
    amp_dtype = _amp_dtype(config, device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        _clear(out_dir)
    state = _resume_state(out_dir) if resume else None
    spec = InputSpec.from_dict(state["fingerprint"]["input"]) if state else None
    data = _prepare_data(config, train_data, val_data, spec)
    if state and state["fingerprint"] != _fingerprint(config, data.spec):
        raise MlcoreError(
            f"{out_dir} holds a training with another model, chip size or input bands; "
            "use a new output directory, or start over without resuming."
        )
    init = load_model(config.init_from)[0].state_dict() if config.init_from and not state else None
    run = _Run(config, data, out_dir, device, amp_dtype, _fingerprint(config, data.spec), init)
    try:
        return run.fit(state, on_epoch=on_epoch, should_stop=should_stop)
    finally:
        data.train.close()
        data.val.close()
