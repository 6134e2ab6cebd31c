"""Instance outlines: Mask R-CNN trained on landslide polygons as instances.

Semantic segmentation draws one mask, so two landslides that touch come out
as one polygon; landslide inventories count them apart. Here every labelled
polygon is an instance of its own (a mask and a box), and the network
(`mlcore.models.mask_rcnn`) predicts one mask per landslide with a score.

It runs through the same paths as the segmentation families:
- `InstanceTask` is `mlcore.training.segmentation.SegmentationTask` (the same data, model
  directory, validation, checkpoints, resume and cancel, through the one
  `mlcore.training.trainer`) with its own batch loss, since Mask R-CNN learns
  from instance targets; `train_instances` takes what `train` takes.
- Validation scores the semantic map the network answers in eval mode, so
  the best epoch and threshold mean what they mean for the other families.
- `mlcore.predict.instances.predict_instances` gives per-landslide polygons
  with scores, merged across chip overlaps; `mlcore.predict.scene.predict_scene`
  (the CLI, the web app's prediction job) runs it for an instance model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import shapely
import torch
from rasterio.features import rasterize
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from mlcore.data import ChipDataset, ChipRef, LabelledScene, StackedScene, augment
from mlcore.data.bands import TERRAIN_BANDS
from mlcore.models.registry import INSTANCE
from mlcore.training.losses import IGNORE
from mlcore.training.segmentation import SegmentationTask, TrainConfig, TrainResult
from mlcore.training.trainer import RunOptions, Trainer, run_task

__all__ = ["InstanceChips", "InstanceTask", "instance_targets", "train_instances"]

MIN_INSTANCE_PIXELS = 4


def instance_targets(ids: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Mask R-CNN targets from a batch of instance-id rasters (N, H, W), 0 background.

    An instance needs MIN_INSTANCE_PIXELS pixels; fewer (a sliver at a chip
    edge) teaches nothing but noise.
    """
    out = []
    for chip in ids:
        found = [int(v) for v in torch.unique(chip) if v > 0]
        masks = torch.stack([chip == v for v in found]) if found else None
        if masks is not None:
            masks = masks[masks.flatten(1).sum(1) >= MIN_INSTANCE_PIXELS]
        if masks is None or not len(masks):
            h, w = chip.shape
            out.append(
                {
                    "boxes": torch.zeros((0, 4), device=chip.device),
                    "labels": torch.zeros(0, dtype=torch.int64, device=chip.device),
                    "masks": torch.zeros((0, h, w), dtype=torch.uint8, device=chip.device),
                }
            )
            continue
        rows, cols = masks.any(dim=2), masks.any(dim=1)
        boxes = torch.stack(
            [_first(cols), _first(rows), _last(cols) + 1, _last(rows) + 1], dim=1
        ).float()
        labels = torch.ones(len(masks), dtype=torch.int64, device=chip.device)
        out.append({"boxes": boxes, "labels": labels, "masks": masks.to(torch.uint8)})
    return out


def _first(hits: torch.Tensor) -> torch.Tensor:
    return hits.float().argmax(dim=1)


def _last(hits: torch.Tensor) -> torch.Tensor:
    return hits.shape[1] - 1 - hits.flip(1).float().argmax(dim=1)


class InstanceChips(torch.utils.data.Dataset):
    """Training chips with an instance-id raster as target: 0 background, k the k-th polygon.

    Wraps the segmentation ChipDataset (same windows, normalisation, extents
    and augmentation), so a batch collates like any other; pixels the loss
    would ignore (outside the train extents, nodata) are blanked in the image,
    because Mask R-CNN has no "unknown" label.
    """

    def __init__(self, chips: ChipDataset) -> None:
        self.chips = chips
        self.scenes = chips.scenes
        self._trees: list[shapely.STRtree] | None = None
        self._transforms = []
        for labelled in self.scenes:
            with StackedScene(labelled.scene) as scene:
                self._transforms.append(scene.transform)
        steady = TERRAIN_BANDS | {"ndvi"}
        self._jitter = np.array([c not in steady for c in chips.spec.channels])

    def _landslides(self, index: int) -> shapely.STRtree:
        if self._trees is None:
            self._trees = [shapely.STRtree(s.landslides) for s in self.scenes]
        return self._trees[index]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_trees": None}

    def instance_ids(self, ref: ChipRef) -> np.ndarray:
        size = self.chips.chip_size
        affine = window_transform(Window(ref.col, ref.row, size, size), self._transforms[ref.scene])
        x0, y0 = affine * (0, 0)
        x1, y1 = affine * (size, size)
        tree = self._landslides(ref.scene)
        hits = tree.query(shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        if not len(hits):
            return np.zeros((size, size), dtype=np.int64)
        shapes = [(tree.geometries[i], k + 1) for k, i in enumerate(sorted(hits))]
        return rasterize(shapes, out_shape=(size, size), transform=affine, dtype="int32").astype(
            np.int64
        )

    def __getitem__(self, ref: ChipRef) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = self.chips.read(ref)
        ids = self.instance_ids(ref)
        ids[target == IGNORE] = -1
        if self.chips.augment and ref.seed is not None:
            image, ids = augment(image, ids, np.random.default_rng(ref.seed), self._jitter)
        image = np.array(image, dtype=np.float32)
        image[:, ids < 0] = 0.0
        ids = np.where(ids < 0, 0, ids)
        return torch.from_numpy(image), torch.from_numpy(np.ascontiguousarray(ids))

    def close(self) -> None:
        self.chips.close()


class InstanceTask(SegmentationTask):
    """Segmentation's task with instance targets for training; validation is the same."""

    kinds = (INSTANCE,)
    way = "mlcore.training.instances.train_instances"

    def prepare(self, state: dict[str, Any] | None) -> None:
        super().prepare(state)
        self.train_set = InstanceChips(self.data.train)

    def training_loss(self, trainer: Trainer, batch: Any) -> torch.Tensor:
        images, targets = batch
        images = trainer.to_device(images)
        instances = instance_targets(trainer.to_device(targets))
        with trainer.autocast():
            losses = trainer.model(images, instances)
        return sum(losses.values())


def train_instances(
    config: TrainConfig,
    train_data: Sequence[LabelledScene],
    val_data: Sequence[LabelledScene],
    out_dir: str | Path,
    **options: Unpack[RunOptions],
) -> TrainResult:
    """`mlcore.training.segmentation.train` for an instance model: the same arguments and result."""
    return run_task(InstanceTask(config, train_data, val_data), out_dir, **options)
