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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rasterio.windows import Window

from mlcore.data import ChipRef, InputSpec, SceneSpec, StackedScene, compute_input_spec
from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import load_checkpoint, recover_checkpoint, save_checkpoint
from mlcore.modeldir.directory import BEST, CONFIG, FORMAT, LAST, METRICS, read_config, write_json
from mlcore.models.registry import ModelConfig, build_model
from mlcore.training.config import TrainConfig, lr_factor, resolve_device
from mlcore.training.trainer import TrainingCancelled, make_loader
from mlcore.training.trainer import _clear as clear_model_dir

__all__ = [
    "METHODS",
    "PretrainConfig",
    "PretrainResult",
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

    def validate(self) -> PretrainConfig:
        self.model.validate()
        if self.model.arch == "maskrcnn":
            raise MlcoreError(
                "Pretraining fits the segmentation families; Mask R-CNN has no decoder to "
                "reconstruct imagery with. Choose unet, unetplusplus, deeplabv3plus, ..."
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
        keep = {"method", "epochs", "chip_size", "chips_per_epoch", "lr", "seed"}
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
            self._open[ref.scene] = StackedScene(self.scenes[ref.scene])
        scene = self._open[ref.scene]
        raw, valid = scene.read(Window(ref.col, ref.row, self.chip_size, self.chip_size))
        image = self.spec.prepare(raw, valid, scene.res)
        k = (ref.seed or 0) % 8  # one of the eight symmetries of the square
        image, valid = np.rot90(image, k % 4, axes=(1, 2)), np.rot90(valid, k % 4)
        if k >= 4:
            image, valid = image[:, :, ::-1], valid[:, ::-1]
        return torch.from_numpy(image.copy()), torch.from_numpy(valid.copy())

    def close(self) -> None:
        for scene in self._open.values():
            scene.close()
        self._open = {}


def _chip_refs(sizes: list[tuple[int, int]], chip: int, n: int, seed: int, epoch: int):
    """n random windows over the scenes, by area; the same for the same (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    weights = np.array([w * h for w, h in sizes], dtype=float)
    picks = rng.choice(len(sizes), n, p=weights / weights.sum())
    out = []
    for s in picks.tolist():
        w, h = sizes[s]
        row, col = (int(rng.integers(0, side - chip + 1)) for side in (h, w))
        out.append(ChipRef(s, row, col, int(rng.integers(0, 2**31 - 1))))
    return out


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
    opened = [StackedScene(s) for s in scenes]
    try:
        sizes = [(s.width, s.height) for s in opened]
        if min(min(size) for size in sizes) < config.chip_size:
            raise MlcoreError(
                f"A scene is smaller than one {config.chip_size} px chip; use a smaller chip size."
            )
        spec = compute_input_spec(opened, seed=config.seed)
    finally:
        for scene in opened:
            scene.close()
    if len(spec.channels) != config.model.in_channels:
        raise MlcoreError(
            f"The model takes {config.model.in_channels} input bands but the scenes give "
            f"{len(spec.channels)} ({', '.join(spec.channels)})."
        )
    return sizes, spec


def _epoch(
    net, loader, optimizer, scheduler, config: PretrainConfig, generator, should_stop
) -> float:
    """One pass over the epoch's chips; the mean reconstruction loss.

    A stop mid-epoch drops the epoch: last.pt still holds the one before, which
    is where a resume continues (pretraining epochs are short and seeded).
    """
    net.train()
    device = next(net.parameters()).device
    total, batches = torch.zeros(()), 0
    for images, valid in loader:
        images, valid = images.to(device), valid.to(device)[:, None].float()
        corrupted, weight = corrupt(images, config, generator)
        weight = weight * valid
        error = (net(corrupted) - images) ** 2 * weight
        loss = error.sum() / (weight.sum() * images.shape[1]).clamp_min(1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total, batches = total + loss.detach().cpu(), batches + 1
        if should_stop and should_stop():
            raise TrainingCancelled(
                "Pretraining stopped; a resume continues after the last finished epoch."
            )
    return float(total) / max(1, batches)


def pretrain(
    config: PretrainConfig,
    scenes: Sequence[SceneSpec],
    out_dir: str | Path,
    *,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = True,
) -> PretrainResult:
    """Pretrain on windows of `scenes` (no labels) and write a model directory to fine-tune.

    Each epoch ends with last.pt (resume) and best.pt (the segmentation
    network, written atomically with its hash); a second call on the same
    directory continues from the last epoch, a call with `resume` False
    starts over. Raises mlcore.training.trainer.TrainingCancelled when `should_stop()`
    turns true (checked after every batch).
    """
    config.validate()
    device = resolve_device(config.device)
    sizes, spec = _scenes_and_spec(config, scenes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        clear_model_dir(out_dir)
    torch.manual_seed(config.seed)
    net = build_model(replace(config.model, classes=config.model.in_channels)).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.chips_per_epoch // config.batch_size
    factor = lr_factor("cosine", config.epochs * steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    epoch, history, sha = 0, [], ""
    state = _resume(out_dir, _fingerprint(config, spec)) if resume else None
    if state:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        epoch, history = state["epoch"], state["history"]
    data = UnlabelledChips(scenes, spec, config.chip_size)
    names = [s.name for s in scenes]
    try:
        while epoch < config.epochs:
            started = time.monotonic()
            refs = _chip_refs(
                sizes, config.chip_size, steps * config.batch_size, config.seed, epoch
            )
            loader = make_loader(data, refs, config, device, drop_last=True)
            generator = torch.Generator(device=device).manual_seed(config.seed * 1000 + epoch)
            loss = _epoch(net, loader, optimizer, scheduler, config, generator, should_stop)
            epoch += 1
            report = {"epoch": epoch, "epochs": config.epochs, "loss": loss}
            report["seconds"] = round(time.monotonic() - started, 2)
            history.append(report)
            sha = _write(out_dir, config, spec, net, epoch, history, names)
            state = {"model": net.state_dict(), "optimizer": optimizer.state_dict()}
            state.update(scheduler=scheduler.state_dict(), epoch=epoch, history=history)
            state.update(format=FORMAT, fingerprint=_fingerprint(config, spec))
            save_checkpoint(state, out_dir / LAST)
            if on_epoch:
                on_epoch(report)
    finally:
        data.close()
    if not sha:  # resumed a finished run
        sha = read_config(out_dir)["checkpoint"]["sha256"]
    return PretrainResult(out_dir, epoch, history[-1]["loss"], sha, history)


def _resume(out_dir: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    sha = recover_checkpoint(out_dir / LAST)
    if sha is None:
        return None
    state = load_checkpoint(out_dir / LAST, expected_sha256=sha)
    if state.get("fingerprint") != fingerprint:
        raise MlcoreError(
            f"{out_dir} holds a pretraining with another model, method or input bands; "
            "use a new output directory, or start over without resuming."
        )
    return state


def _write(out_dir, config, spec, net, epoch, history, names) -> str:
    """The fine-tunable network as best.pt and its config.json; returns the checkpoint hash."""
    target = build_model(config.model)
    fresh = transfer_weights(net, target)
    weights = {"format": FORMAT, "epoch": epoch, "model": target.state_dict()}
    sha = save_checkpoint(weights, out_dir / BEST)
    record = {**config.record(), "scenes": names, "final_loss": history[-1]["loss"]}
    record["epochs_run"], record["fresh"] = epoch, fresh
    write_json(
        out_dir / CONFIG,
        {
            "format": FORMAT,
            "model": config.model.to_dict(),
            "input": spec.to_dict(),
            "chip_size": config.chip_size,
            "threshold": 0.5,
            "best_epoch": epoch,
            "checkpoint": {"file": BEST, "sha256": sha},
            "metrics": {},
            "pretraining": record,
            "scenes": {"pretrain": names},
        },
    )
    write_json(out_dir / METRICS, {"history": history})
    return sha


def pretraining_of(model_dir: str | Path) -> dict[str, Any] | None:
    """The pretraining a model directory is, or started from; None for neither."""
    config = read_config(model_dir)
    return config.get("pretraining") or (config.get("train") or {}).get("pretraining")


def finetune_config(config: TrainConfig, pretrained_dir: str | Path) -> TrainConfig:
    """`config` starting from a pretrained directory, recording which pretraining it used."""
    record = pretraining_of(pretrained_dir)
    if record is None:
        raise MlcoreError(f"{pretrained_dir} is not the output of a pretraining.")
    theirs = ModelConfig.from_dict(read_config(pretrained_dir)["model"])
    if theirs != config.model:
        raise MlcoreError(
            f"{pretrained_dir} was pretrained for {theirs.arch}/{theirs.encoder} with "
            f"{theirs.in_channels} bands and depth {theirs.encoder_depth}; fine-tune the same "
            "network, or pretrain again for this one."
        )
    sha = read_config(pretrained_dir)["checkpoint"]["sha256"]
    return replace(config, init_from=Path(pretrained_dir), pretraining={**record, "sha256": sha})
