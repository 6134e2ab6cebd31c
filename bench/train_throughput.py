"""Training throughput: the real chip pipeline beside tensors already in memory.

Reads chips from the Baige GeoTIFFs (scene A's train extent) through the same
DataLoader, sampler, augmentation and normalisation as `mlcore.training.trainer`, feeds
them to the model, and compares chips/s with the same model stepping on
batches that are already on the device. The pipeline's cost is the share of
throughput lost to it (target: under 15%).

    .venv/bin/python bench/train_throughput.py                  # CPU here
    .venv/bin/python bench/train_throughput.py --workers 6 --batch-size 32   # a GPU
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.data import SceneSpec, label_scenes, read_vector  # noqa: E402
from mlcore.models.registry import ModelConfig  # noqa: E402
from mlcore.training.config import TrainConfig  # noqa: E402
from mlcore.training.segmentation import SegmentationTask  # noqa: E402
from mlcore.training.trainer import Trainer, make_loader  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "baige"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_steps(trainer: Trainer, batches, steps: int, warmup: int) -> float:
    """Chips per second over `steps` training steps after `warmup` untimed ones."""
    it = iter(batches)
    for _ in range(warmup):
        trainer.train_step(next(it))
    _sync(trainer.device)
    start = time.perf_counter()
    chips = 0
    for _ in range(steps):
        batch = next(it)
        trainer.train_step(batch)
        chips += batch[0].shape[0]
    _sync(trainer.device)
    return chips / (time.perf_counter() - start)


def _cycle(batches):
    while True:
        yield from batches


def _epochs(loader, sampler):
    epoch = 2
    while True:
        sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--encoder", default="resnet34")
    parser.add_argument("--chip-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    places = [args.data / "A", args.data / "B"]  # A: train extent, B: validation extent
    scenes = label_scenes(
        [SceneSpec([p / "image.tif", p / "dsm.tif"]) for p in places],
        [read_vector(p / "landslides.gpkg") for p in places],
        [read_vector(p / "extent.gpkg") for p in places],
    )
    total = (args.steps + args.warmup) * args.batch_size
    config = TrainConfig(
        model=ModelConfig(arch=args.arch, encoder=args.encoder, in_channels=4),
        chip_size=args.chip_size,
        batch_size=args.batch_size,
        chips_per_epoch=total,
        num_workers=args.workers,
        device=args.device,
    ).validate()
    task = SegmentationTask(config, scenes, scenes)
    task.prepare(None)
    data = task.data
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(task, Path(tmp))
        device = trainer.device
        loader = make_loader(data.train, data.sampler, config, device, drop_last=True)
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        print(
            f"device {device} ({where}, {os.cpu_count()} cores), torch threads "
            f"{torch.get_num_threads()}, model {args.arch}/{args.encoder}, chips "
            f"{args.chip_size} px, batch {args.batch_size}, workers {args.workers}, "
            f"amp {trainer.amp_dtype}"
        )
        for epoch in range(2):  # the first pass starts the workers; time the second
            data.sampler.set_epoch(epoch)
            start = time.perf_counter()
            chips = sum(images.shape[0] for images, _ in loader)
        data_only = chips / (time.perf_counter() - start)

        resident = [(x.to(device), y.to(device)) for x, y in (next(iter(loader)),)]
        memory = _time_steps(trainer, _cycle(resident), args.steps, args.warmup)
        pipeline = _time_steps(trainer, _epochs(loader, data.sampler), args.steps, args.warmup)
    cost = 1 - pipeline / memory
    print(f"data pipeline alone (no model): {data_only:8.1f} chips/s")
    print(f"model on in-memory tensors:     {memory:8.1f} chips/s")
    print(f"model fed by the data pipeline: {pipeline:8.1f} chips/s")
    print(f"pipeline cost: {cost:.1%} of throughput (target < 15%)")


if __name__ == "__main__":
    main()
