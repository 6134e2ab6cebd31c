"""Self-supervised pretraining on unlabelled imagery, for projects with few labels.

A project has far more imagery than hand-drawn polygons. Here the very
network that will map landslides first learns to reconstruct that imagery:
"masked" hides square patches of each chip and asks for them back (a masked
autoencoder); "denoising" adds Gaussian noise and asks for the clean chip.
The loss counts the hidden (or all) valid pixels only, so nodata teaches
nothing.

The result is an ordinary model directory (config.json, best.pt, last.pt,
metrics.json) holding the segmentation network of `PretrainConfig.model`
with the pretrained encoder and decoder and a fresh one-class head, so that
`TrainConfig.init_from` fine-tunes it unchanged. Its config.json records
{"pretraining": {...}}; `finetune_config` carries that record into the
fine-tuned version's config.json (under "train"), and `pretraining_of`
reads it back from either kind of directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rasterio.windows import Window

from mlcore.data import ChipRef, InputSpec, SceneSpec, StackedScene, compute_input_spec
from mlcore.data.dataset import read_prepared
from mlcore.errors import MlcoreError
from mlcore.modeldir.directory import read_config, write_config
from mlcore.models.registry import ModelConfig, build_model, families, family_of
from mlcore.training.config import TrainConfig
from mlcore.training.trainer import BatchProgress, EpochOutcome, Task, Trainer, run_task

__all__ = [
    "METHODS",
    "PretrainConfig",
    "PretrainResult",
    "PretrainTask",
    "UnlabelledChips",
    "finetune_config",
    "pretrain",
    "pretraining_of",
    "transfer_weights",
]

METHODS = ("masked", "denoising")


@dataclass(kw_only=True)
class PretrainConfig:
    """How to pretrain; `model` is the network to fine-tune later (classes 1).

    `mask_ratio` of the `patch_size` squares are hidden ("masked");
    `noise_std` is in normalised units, where a band's 2-98% range spans 1.
    """

    model: ModelConfig
    method: str = "masked"
    mask_ratio: float = 0.6
    patch_size: int = 16
    noise_std: float = 0.3
    epochs: int = 10
    batch_size: int = 8
    chip_size: int = 256
    chips_per_epoch: int = 1024
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    # The input plan of the training that will fine-tune it (mlcore.data.bands.plan_inputs):
    # the network must see the same channels on the same grid in both.
    derived_bands: tuple[str, ...] = ()
    dropped_bands: tuple[str, ...] = ()
    scale: int = 1

    def validate(self) -> PretrainConfig:
        family = self.model.validate() and family_of(self.model.arch)
        if not family.pretrainable:
            names = ", ".join(f.name for f in families(pretrainable=True))
            raise MlcoreError(
                f"Pretraining fits the segmentation families; {family.title} has no decoder to "
                f"reconstruct imagery with. Choose one of: {names}."
            )
        if self.method not in METHODS:
            raise MlcoreError(
                f"Unknown pretraining method {self.method!r}; choose one of: {', '.join(METHODS)}."
            )
        if not 0 < self.mask_ratio < 1 or self.noise_std <= 0:
            raise MlcoreError("The mask ratio lies between 0 and 1 and the noise must be positive.")
        if self.chip_size < 16 or self.chip_size % 16 or self.chip_size % self.patch_size:
            raise MlcoreError(
                f"The chip size must be a multiple of 16 and of the patch size "
                f"({self.patch_size}), not {self.chip_size}."
            )
        if self.epochs < 1 or self.batch_size < 1 or self.chips_per_epoch < self.batch_size:
            raise MlcoreError("Pretraining needs an epoch of at least one batch of chips.")
        return self

    def record(self) -> dict[str, Any]:
        """The method and its settings, as config.json's "pretraining" tells them."""
        keep = {"method", "epochs", "chip_size", "chips_per_epoch", "lr", "seed", "scale"}
        keep |= {"derived_bands", "dropped_bands"}
        keep |= {"mask_ratio", "patch_size"} if self.method == "masked" else {"noise_std"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in keep}


@dataclass
class PretrainResult:
    out_dir: Path
    epochs_run: int
    final_loss: float
    checkpoint_sha256: str
    history: list[dict[str, Any]]


class UnlabelledChips(torch.utils.data.Dataset):
    """Random windows of scenes, prepared like training chips, with their validity mask."""

    def __init__(self, scenes: Sequence[SceneSpec], spec: InputSpec, chip_size: int) -> None:
        self.scenes, self.spec, self.chip_size = list(scenes), spec, chip_size
        self._open: dict[int, StackedScene] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_open": {}}

    def __getitem__(self, ref: ChipRef) -> tuple[torch.Tensor, torch.Tensor]:
        if ref.scene not in self._open:
            self._open[ref.scene] = StackedScene(self.scenes[ref.scene], self.spec.scale)
        scene = self._open[ref.scene]
        window = Window(ref.col, ref.row, self.chip_size, self.chip_size)
        image, valid = read_prepared(scene, self.spec, window)  # terrain from a halo
        k = (ref.seed or 0) % 8  # one of the eight symmetries of the square
        image, valid = np.rot90(image, k % 4, axes=(1, 2)), np.rot90(valid, k % 4)
        if k >= 4:
            image, valid = image[:, :, ::-1], valid[:, ::-1]
        return torch.from_numpy(image.copy()), torch.from_numpy(valid.copy())

    def close(self) -> None:
        for scene in self._open.values():
            scene.close()
        self._open = {}


class EpochChips:
    """The sampler of pretraining: random windows over the scenes, by area, the same for
    the same (seed, epoch)."""

    def __init__(self, sizes: list[tuple[int, int]], chip: int, n: int, seed: int) -> None:
        self.sizes, self.chip, self.n, self.seed = sizes, chip, n, seed
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.n - self.start

    def __iter__(self) -> Iterator[ChipRef]:
        rng = np.random.default_rng([self.seed, self.epoch])
        weights = np.array([w * h for w, h in self.sizes], dtype=float)
        picks = rng.choice(len(self.sizes), self.n, p=weights / weights.sum())
        out = []
        for s in picks.tolist():
            w, h = self.sizes[s]
            row, col = (int(rng.integers(0, side - self.chip + 1)) for side in (h, w))
            out.append(ChipRef(s, row, col, int(rng.integers(0, 2**31 - 1))))
        return iter(out[self.start :])


def corrupt(
    x: torch.Tensor, config: PretrainConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The corrupted input and the weight of each pixel in the loss (N, 1, H, W)."""
    if config.method == "denoising":
        noise = torch.randn(x.shape, generator=generator, device=x.device) * config.noise_std
        return x + noise, torch.ones_like(x[:, :1])
    n, _, h, w = x.shape
    p = config.patch_size
    hidden = torch.rand((n, 1, h // p, w // p), generator=generator, device=x.device)
    hidden = (hidden < config.mask_ratio).float()
    hidden = hidden.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)
    return x * (1 - hidden), hidden


def transfer_weights(source: torch.nn.Module, target: torch.nn.Module) -> list[str]:
    """Copy every tensor whose name and shape agree; return the names left as they were.

    The reconstruction head outputs one channel per band, the landslide head
    one channel, so the head is what stays fresh.
    """
    theirs = source.state_dict()
    ours = target.state_dict()
    fresh = [k for k, v in ours.items() if k not in theirs or theirs[k].shape != v.shape]
    target.load_state_dict({k: (v if k in fresh else theirs[k]) for k, v in ours.items()})
    return fresh


def _fingerprint(config: PretrainConfig, spec: InputSpec) -> dict[str, Any]:
    """What a resumed run must share with the saved one; more epochs may follow."""
    task = {k: v for k, v in config.record().items() if k not in ("epochs", "lr", "seed")}
    return {"model": config.model.to_dict(), "input": spec.to_dict(), **task}


def _scenes_and_spec(
    config: PretrainConfig, scenes: Sequence[SceneSpec]
) -> tuple[list[tuple[int, int]], InputSpec]:
    """Each scene's (width, height) and the normalisation, checked against the model."""
    if not scenes:
        raise MlcoreError("Pretraining needs at least one scene.")
    opened = [StackedScene(s, config.scale) for s in scenes]
    try:
        sizes = [(s.width, s.height) for s in opened]
        if min(min(size) for size in sizes) < config.chip_size:
            raise MlcoreError(
                f"A scene is smaller than one {config.chip_size} px chip; use a smaller chip size."
            )
        spec = compute_input_spec(
            opened, config.derived_bands, dropped=config.dropped_bands, seed=config.seed
        )
    finally:
        for scene in opened:
            scene.close()
    if len(spec.channels) != config.model.in_channels:
        raise MlcoreError(
            f"The model takes {config.model.in_channels} input bands but the scenes give "
            f"{len(spec.channels)} ({', '.join(spec.channels)})."
        )
    return sizes, spec


class PretrainTask(Task):
    """Reconstruct corrupted imagery: the network with one output channel per band.

    Every epoch is "better": best.pt holds the fine-tunable network (the
    reconstruction's weights in a landslide network, whose head stays fresh),
    and config.json records the pretraining. A stop mid-epoch drops the epoch:
    last.pt still holds the one before, which is where a resume continues
    (pretraining epochs are short and seeded).
    """

    noun = "pretraining"
    differs = "another model, method or input bands"
    resumes_mid_epoch = False

    def __init__(self, config: PretrainConfig, scenes: Sequence[SceneSpec]) -> None:
        self.config, self.scenes = config, list(scenes)
        self.names = [s.name for s in scenes]
        self.data: UnlabelledChips | None = None
        self.fresh: list[str] = []
        self._generator: torch.Generator | None = None

    def check(self) -> None:
        self.config.validate()

    def prepare(self, state: dict[str, Any] | None) -> None:
        config = self.config
        sizes, self.spec = _scenes_and_spec(config, self.scenes)
        self.fingerprint = _fingerprint(config, self.spec)
        n = config.chips_per_epoch // config.batch_size * config.batch_size
        self.sampler = EpochChips(sizes, config.chip_size, n, config.seed)
        self.data = self.train_set = UnlabelledChips(self.scenes, self.spec, config.chip_size)

    def build_model(self) -> torch.nn.Module:
        return build_model(replace(self.config.model, classes=self.config.model.in_channels))

    def start_epoch(self, epoch: int, device: torch.device) -> None:
        self._generator = torch.Generator(device=device).manual_seed(
            self.config.seed * 1000 + epoch
        )

    def training_loss(self, trainer: Trainer, batch: Any) -> torch.Tensor:
        images, valid = batch
        images, valid = trainer.to_device(images), trainer.to_device(valid)[:, None].float()
        corrupted, weight = corrupt(images, self.config, self._generator)
        weight = weight * valid
        error = (trainer.forward(corrupted) - images) ** 2 * weight
        return error.sum() / (weight.sum() * images.shape[1]).clamp_min(1.0)

    def epoch_outcome(self, figures: dict[str, Any], best: dict[str, Any] | None) -> EpochOutcome:
        report = {"epoch": figures["epoch"], "epochs": figures["epochs"]}
        report.update(loss=figures["train_loss"], seconds=figures["seconds"])
        return EpochOutcome(report, report, improved=True)

    def best_weights(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        target = build_model(self.config.model)
        self.fresh = transfer_weights(model, target)
        return target.state_dict()

    def write_config(self, out_dir: Path, best: dict[str, Any] | None, best_sha: str) -> None:
        if best is None:  # nothing to fine-tune from before the first epoch
            return
        record = {**self.config.record(), "scenes": self.names, "final_loss": best["loss"]}
        record["epochs_run"], record["fresh"] = best["epoch"], self.fresh
        write_config(
            out_dir,
            model=self.config.model,
            spec=self.spec,
            chip_size=self.config.chip_size,
            best_epoch=best["epoch"],
            checkpoint_sha256=best_sha,
            pretraining=record,
            scenes={"pretrain": self.names},
        )

    def result(self, trainer: Trainer) -> PretrainResult:
        sha = trainer.best_sha or read_config(trainer.out_dir)["checkpoint"]["sha256"]
        history = trainer.history
        return PretrainResult(trainer.out_dir, trainer.epoch, history[-1]["loss"], sha, history)

    def close(self) -> None:
        if self.data is not None:
            self.data.close()


def pretrain(
    config: PretrainConfig,
    scenes: Sequence[SceneSpec],
    out_dir: str | Path,
    *,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_batch: Callable[[BatchProgress], None] | None = None,
    resume: bool = True,
) -> PretrainResult:
    """Pretrain on windows of `scenes` (no labels) and write a model directory to fine-tune.

    Each epoch ends with last.pt (resume) and best.pt (the segmentation
    network, written atomically with its hash); a second call on the same
    directory continues from the last epoch, a call with `resume` False
    starts over. Raises mlcore.training.trainer.TrainingCancelled when `should_stop()`
    turns true (checked after every batch).
    """
    return run_task(
        PretrainTask(config, scenes),
        out_dir,
        on_epoch=on_epoch,
        should_stop=should_stop,
        on_batch=on_batch,
        resume=resume,
    )


def pretraining_of(model_dir: str | Path) -> dict[str, Any] | None:
    """The pretraining a model directory is, or started from; None for neither."""
    config = read_config(model_dir)
    return config.get("pretraining") or (config.get("train") or {}).get("pretraining")


def finetune_config(config: TrainConfig, pretrained_dir: str | Path) -> TrainConfig:
    """`config` starting from a pretrained directory, recording which pretraining it used."""
    record = pretraining_of(pretrained_dir)
    if record is None:
        raise MlcoreError(f"{pretrained_dir} is not the output of a pretraining.")
    saved = read_config(pretrained_dir)
    theirs = ModelConfig.from_dict(saved["model"])
    if theirs != config.model:
        raise MlcoreError(
            f"{pretrained_dir} was pretrained for {theirs.arch}/{theirs.encoder} with "
            f"{theirs.in_channels} bands and depth {theirs.encoder_depth}; fine-tune the same "
            "network, or pretrain again for this one."
        )
    learnt = InputSpec.from_dict(saved["input"])
    theirs_plan = (learnt.derived, learnt.dropped, learnt.scale)
    if theirs_plan != (tuple(config.derived_bands), tuple(config.dropped_bands), config.scale):
        raise MlcoreError(
            f"{pretrained_dir} was pretrained on derived bands {list(learnt.derived) or 'none'} "
            f"(leaving out {list(learnt.dropped) or 'nothing'}) at model pixel {learnt.scale}, "
            f"but this training derives {list(config.derived_bands) or 'none'} (leaving out "
            f"{list(config.dropped_bands) or 'nothing'}) at {config.scale}; its weights learnt "
            "other inputs. Train with the pretraining's inputs, or pretrain again with these."
        )
    sha = saved["checkpoint"]["sha256"]
    return replace(config, init_from=Path(pretrained_dir), pretraining={**record, "sha256": sha})
