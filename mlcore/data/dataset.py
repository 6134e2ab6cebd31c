"""The torch Dataset of chips: read a window, burn its labels, prepare, augment.

Raster handles and spatial indexes are opened lazily in the process that
reads (keyed by pid), so a DataLoader worker never uses a GDAL handle that
was opened before the fork.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import shapely
import torch
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from mlcore.data.bands import TERRAIN_BANDS, InputSpec
from mlcore.data.labels import LabelledScene, burn
from mlcore.data.sampling import ChipRef
from mlcore.data.scenes import StackedScene
from mlcore.losses import IGNORE


class _Opened:
    def __init__(self, labelled: LabelledScene, split: str) -> None:
        self.scene = StackedScene(labelled.scene)
        self.landslides = shapely.STRtree(labelled.landslides)
        own = labelled.extent_of(split)
        shapely.prepare(own)
        self.own = shapely.STRtree(own)


class ChipDataset(torch.utils.data.Dataset):
    """Chips of `split` from labelled scenes, indexed by ChipRef (from a sampler).

    Returns (image float32 [C, S, S], target uint8 [S, S] with IGNORE where
    the pixel is outside the split's extents or nodata in any band).
    """

    def __init__(
        self,
        scenes: Sequence[LabelledScene],
        split: str,
        spec: InputSpec,
        chip_size: int,
        *,
        augment: bool = False,
    ) -> None:
        self.scenes, self.split, self.spec = list(scenes), split, spec
        self.chip_size, self.augment = chip_size, augment
        # Jitter imitates illumination, so only bands of reflected light get it.
        steady = TERRAIN_BANDS | {"ndvi"}
        self._jitter = np.array([c not in steady for c in spec.channels])
        self._opened: dict[int, list[_Opened | None]] = {}

    def _scene(self, index: int) -> _Opened:
        per_process = self._opened.setdefault(os.getpid(), [None] * len(self.scenes))
        if per_process[index] is None:
            per_process[index] = _Opened(self.scenes[index], self.split)
        return per_process[index]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_opened": {}}

    def read(self, ref: ChipRef) -> tuple[np.ndarray, np.ndarray]:
        """The prepared chip (C, S, S) and its target (S, S), before augmentation."""
        opened = self._scene(ref.scene)
        scene, size = opened.scene, self.chip_size
        window = Window(ref.col, ref.row, size, size)
        raw, valid = scene.read(window)
        affine = window_transform(window, scene.transform)
        bounds = _bounds(affine, size)
        target = burn(_clipped(opened.landslides, bounds), affine, (size, size))
        if not _covered(opened.own, bounds):
            target[burn(_clipped(opened.own, bounds), affine, (size, size)) == 0] = IGNORE
        target[~valid] = IGNORE
        return self.spec.prepare(raw, valid, scene.res), target

    def __getitem__(self, ref: ChipRef) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = self.read(ref)
        if self.augment and ref.seed is not None:
            image, target = augment(image, target, np.random.default_rng(ref.seed), self._jitter)
        return torch.from_numpy(np.ascontiguousarray(image)), torch.from_numpy(
            np.ascontiguousarray(target)
        )

    def close(self) -> None:
        for opened in self._opened.get(os.getpid(), []):
            if opened is not None:
                opened.scene.close()
        self._opened.pop(os.getpid(), None)


def _covered(tree: shapely.STRtree, bounds: tuple[float, float, float, float]) -> bool:
    """Whether one polygon covers the whole chip (most chips, far from an extent's edge)."""
    box = shapely.box(*bounds)
    return bool(shapely.covers(tree.geometries[tree.query(box)], box).any())


def _clipped(tree: shapely.STRtree, bounds: tuple[float, float, float, float]) -> list:
    """The polygons under a chip, cut to it (with a margin) so that burning stays cheap.

    Hand-traced outlines carry thousands of vertices; rasterio converts each
    one in Python, so cutting first saves most of a chip's time.
    """
    x0, y0, x1, y1 = bounds
    pad = 0.01 * (x1 - x0)
    hits = tree.geometries[tree.query(shapely.box(*bounds))]
    cut = shapely.clip_by_rect(hits, x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    return [g for g in cut if not g.is_empty]


def _bounds(affine, size: int) -> tuple[float, float, float, float]:
    x0, y0 = affine @ (0, 0)
    x1, y1 = affine @ (size, size)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def augment(
    image: np.ndarray, target: np.ndarray, rng: np.random.Generator, jitter: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Dihedral flips/rotations and light brightness/contrast jitter of the optical bands.

    Landslides have no preferred orientation in a chip, so all eight
    symmetries are fair; terrain bands keep their values.
    """
    k = int(rng.integers(4))
    image, target = np.rot90(image, k, axes=(1, 2)), np.rot90(target, k)
    if rng.random() < 0.5:
        image, target = image[:, :, ::-1], target[:, ::-1]
    if jitter.any():
        image = image.copy()
        contrast = rng.uniform(0.9, 1.1)
        brightness = rng.uniform(-0.05, 0.05)
        image[jitter] = image[jitter] * contrast + brightness
    return image, target
