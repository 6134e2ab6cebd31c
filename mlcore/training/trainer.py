"""The one training loop: epochs, optimiser, schedule, resume, checkpoints, cancellation.

TorchGeo's BaseTask shape. The `Trainer` owns what every kind of training
shares: AdamW and its learning-rate schedule, mixed precision, the epochs, the
full state saved after every epoch (last.pt) and read back by a resume, the
best weights (best.pt), config.json and metrics.json after every epoch,
cancellation between batches, and the per-epoch and per-batch callbacks. A `Task` supplies
what differs per kind of model: its data, the network, a batch's loss, the
validation score, what counts as better, what best.pt holds and what
config.json records. Segmentation and change detection share
`mlcore.training.segmentation.SegmentationTask`; Mask R-CNN has
`mlcore.training.instances.InstanceTask`; pretraining has
`mlcore.training.pretrain.PretrainTask`. Which task a model family trains
with is `mlcore.training.tuning.TASKS`, by the family's kind.

The chips of an epoch depend only on the seed and the epoch, and the RNG state
travels in last.pt, so a resumed run retraces an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypedDict

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mlcore.device import resolve_device
from mlcore.errors import Cancelled, MlcoreError
from mlcore.modeldir.checkpoints import load_checkpoint, recover_checkpoint, save_checkpoint
from mlcore.modeldir.directory import (
    BEST,
    CURVES,
    FORMAT,
    LAST,
    METRICS,
    clear_model_dir,
    plot_curves,
    write_json,
)
from mlcore.training.config import lr_factor

__all__ = [
    "BatchProgress",
    "EpochOutcome",
    "Task",
    "Trainer",
    "TrainingCancelled",
    "make_loader",
    "run_task",
]


# The one cancellation (mlcore.errors.Cancelled), by the name training's callers know:
# should_stop() asked to stop; a resume continues from the state last saved.
TrainingCancelled = Cancelled


class BatchProgress:
    """Where a run is after a training batch: what a job shows between epochs.

    An epoch takes minutes on a CPU; without this a person saw nothing move
    until the first one ended. The running loss is read only when asked for:
    reading it waits for the device, so a caller that shows it now and then
    does not slow every batch.
    """

    def __init__(self, trainer: Trainer) -> None:
        self._trainer = trainer
        self.epoch, self.epochs = trainer.epoch + 1, trainer.config.epochs
        self.step, self.steps = trainer.step, trainer.steps

    @property
    def fraction(self) -> float:
        """The share of all epochs' training batches done (validation not counted)."""
        return (self.epoch - 1 + self.step / max(self.steps, 1)) / max(self.epochs, 1)

    def running_loss(self) -> float:
        """The mean training loss of this epoch's batches so far."""
        return float(self._trainer.loss_sum) / max(self.step, 1)


class Settings(Protocol):
    """The fields of TrainConfig and PretrainConfig the loop reads."""

    epochs: int
    batch_size: int
    chips_per_epoch: int
    lr: float
    weight_decay: float
    seed: int
    num_workers: int
    device: str


class EpochSampler(Protocol):
    """The training chips of one epoch, from chip `start` on (ChipSampler is one)."""

    def set_epoch(self, epoch: int, start: int = 0) -> None: ...

    def __iter__(self) -> Iterator[Any]: ...


@dataclass
class EpochOutcome:
    """What the task makes of an epoch's figures: the callback's report, the history row
    (metrics.json), and whether these weights become best.pt."""

    report: Any
    row: dict[str, Any]
    improved: bool


class Task:
    """What one kind of training supplies to the Trainer; subclasses override the hooks.

    `prepare` runs first, with the saved state when resuming, and sets
    `train_set`, `sampler` and `fingerprint` (what a resumed run must share
    with the saved one).
    """

    noun = "training"  # "<dir> holds a training with another ..."
    differs = "another model, chip size or input bands"
    schedule = "cosine"
    patience: int | None = None  # epochs without improvement before stopping early
    resumes_mid_epoch = True  # False: a stop drops the unfinished epoch instead of saving it
    plots_curves = False

    config: Settings
    train_set: Dataset
    sampler: EpochSampler
    fingerprint: dict[str, Any]

    def check(self) -> None:
        """Refuse a bad configuration before any scene is read."""

    def prepare(self, state: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def initial_weights(self) -> dict[str, torch.Tensor] | None:
        """Weights a fresh (not resumed) run starts from: a parent's or a pretraining's."""
        return None

    def amp_dtype(self, device: torch.device) -> torch.dtype | None:
        return None

    def start_epoch(self, epoch: int, device: torch.device) -> None:
        """Called before an epoch's first batch (and before a resumed epoch's next one)."""

    def training_loss(self, trainer: Trainer, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def validate(self, trainer: Trainer, check_stop: Callable[[], None]) -> dict[str, float]:
        """The epoch's validation scores; `check_stop()` before each batch."""
        return {}

    def epoch_outcome(self, figures: dict[str, Any], best: dict[str, Any] | None) -> EpochOutcome:
        raise NotImplementedError

    def best_weights(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """What best.pt holds as "model"."""
        return model.state_dict()

    def write_config(self, out_dir: Path, best: dict[str, Any] | None, best_sha: str) -> None:
        """config.json, through mlcore.modeldir.directory.write_config."""
        raise NotImplementedError

    def metrics(
        self, history: list[dict[str, Any]], best: dict[str, Any] | None, stopped_early: bool
    ) -> dict[str, Any]:
        return {"history": history}

    def result(self, trainer: Trainer) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Close the scenes the datasets hold open."""


def make_loader(dataset, sampler, config: Settings, device: torch.device, drop_last: bool):
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


class Trainer:
    """The state of one run between epochs and batches, and how to save and restore it.

    `run_task` is the way in; the bench drives `train_step` directly to time the model alone.
    """

    def __init__(
        self, task: Task, out_dir: Path, *, init: dict[str, torch.Tensor] | None = None
    ) -> None:
        self.task, self.out_dir = task, out_dir
        config = self.config = task.config
        self.device = device = resolve_device(config.device)
        self.amp_dtype = task.amp_dtype(device)
        torch.manual_seed(config.seed)
        self.model = task.build_model()
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
        factor = lr_factor(task.schedule, config.epochs * self.steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.epoch, self.step, self.loss_sum = 0, 0, torch.zeros((), device=device)
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.best_sha, self.bad_epochs, self.stopped_early = "", 0, False

    # What a batch's loss needs from the loop.

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device, non_blocking=True)

    def autocast(self) -> AbstractContextManager:
        dtype = self.amp_dtype or torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype, enabled=self.amp_dtype is not None)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = self.to_device(images)
        if self.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            return self.model(images)

    def train_step(self, batch: Any) -> torch.Tensor:
        """One optimiser step on a batch; returns the detached loss (no device sync)."""
        loss = self.task.training_loss(self, batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach()

    # Saving and restoring.

    def _state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": FORMAT,
            "fingerprint": self.task.fingerprint,
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
        self.epoch, self.history = state["epoch"], state["history"]
        # A pretraining's last.pt written before the loops were one holds only the above.
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.step = state.get("step", 0)
        self.loss_sum = torch.tensor(state.get("loss_sum", 0.0), device=self.device)
        self.best, self.best_sha = state.get("best"), state.get("best_sha", "")
        self.bad_epochs = state.get("bad_epochs", 0)
        self.stopped_early = state.get("stopped_early", False)
        if "rng" in state:
            torch.set_rng_state(state["rng"]["torch"])
            if "cuda" in state["rng"] and self.device.type == "cuda":
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])

    def _cancel(self) -> None:
        if not self.task.resumes_mid_epoch:
            raise TrainingCancelled(
                f"{self.task.noun.capitalize()} stopped; a resume continues after the last "
                "finished epoch."
            )
        save_checkpoint(self._state(), self.out_dir / LAST)
        raise TrainingCancelled(
            f"{self.task.noun.capitalize()} stopped in epoch {self.epoch + 1} after "
            f"{self.step} batches; its state is saved and a resume continues from there."
        )

    # The epochs.

    def _train_epoch(self, loader: DataLoader, should_stop, on_batch=None) -> None:
        self.task.start_epoch(self.epoch, self.device)
        self.task.sampler.set_epoch(self.epoch, start=self.step * self.config.batch_size)
        self.model.train()
        if self.step >= self.steps:
            return
        for batch in loader:
            self.loss_sum += self.train_step(batch)
            self.step += 1
            if on_batch:
                on_batch(BatchProgress(self))
            if should_stop and should_stop():
                self._cancel()

    def _finish_epoch(self, scores: dict[str, float], seconds: float) -> Any:
        self.epoch += 1
        figures = {
            "epoch": self.epoch,
            "epochs": self.config.epochs,
            "train_loss": float(self.loss_sum) / self.steps,
            "lr": self.optimizer.param_groups[0]["lr"],
            "seconds": round(seconds, 2),
            **scores,
        }
        self.step, self.loss_sum = 0, torch.zeros((), device=self.device)
        outcome = self.task.epoch_outcome(figures, self.best)
        self.history.append(outcome.row)
        if outcome.improved:
            self.best, self.bad_epochs = outcome.row, 0
            weights = {
                "format": FORMAT,
                "epoch": self.epoch,
                "model": self.task.best_weights(self.model),
            }
            self.best_sha = save_checkpoint(weights, self.out_dir / BEST)
        else:
            self.bad_epochs += 1
        patience = self.task.patience
        self.stopped_early = bool(patience) and self.bad_epochs >= patience
        self.task.write_config(self.out_dir, self.best, self.best_sha)
        save_checkpoint(self._state(), self.out_dir / LAST)
        write_json(
            self.out_dir / METRICS, self.task.metrics(self.history, self.best, self.stopped_early)
        )
        if self.task.plots_curves:
            plot_curves(self.history, self.out_dir / CURVES)
        return outcome.report

    def fit(self, state, *, on_epoch, should_stop, on_batch=None) -> Any:
        if state:
            self._restore(state)
        else:
            self.task.write_config(self.out_dir, None, "")
        train_loader = make_loader(
            self.task.train_set, self.task.sampler, self.config, self.device, drop_last=True
        )

        def check_stop() -> None:
            if should_stop and should_stop():
                self._cancel()

        while self.epoch < self.config.epochs and not self.stopped_early:
            started = time.monotonic()
            self._train_epoch(train_loader, should_stop, on_batch)
            scores = self.task.validate(self, check_stop)
            report = self._finish_epoch(scores, time.monotonic() - started)
            if on_epoch:
                on_epoch(report)
        return self.task.result(self)


def _resume_state(out_dir: Path) -> dict[str, Any] | None:
    sha = recover_checkpoint(out_dir / LAST)
    return None if sha is None else load_checkpoint(out_dir / LAST, expected_sha256=sha)


class RunOptions(TypedDict, total=False):
    """How a caller follows and steers a run: what `train`, `train_instances` and
    `train_and_tune` take and hand on to `run_task` unchanged."""

    on_epoch: Callable[[Any], None] | None
    should_stop: Callable[[], bool] | None
    on_batch: Callable[[BatchProgress], None] | None
    resume: bool


def run_task(
    task: Task,
    out_dir: str | Path,
    *,
    on_epoch: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_batch: Callable[[BatchProgress], None] | None = None,
    resume: bool = True,
) -> Any:
    """Run `task` into `out_dir`: continue its last checkpoint when `resume`, else start over.

    Raises TrainingCancelled when `should_stop()` turns true (checked after
    every batch); what a resume continues from is the task's choice.
    `on_batch` hears after every training batch (`BatchProgress`).
    """
    task.check()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        clear_model_dir(out_dir)
    state = _resume_state(out_dir) if resume else None
    try:
        task.prepare(state)
        if state and state.get("fingerprint") != task.fingerprint:
            raise MlcoreError(
                f"{out_dir} holds a {task.noun} with {task.differs}; "
                "use a new output directory, or start over without resuming."
            )
        init = None if state else task.initial_weights()
        return Trainer(task, out_dir, init=init).fit(
            state, on_epoch=on_epoch, should_stop=should_stop, on_batch=on_batch
        )
    finally:
        task.close()
