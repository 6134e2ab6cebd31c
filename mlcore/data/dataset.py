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
from mlcore.training.losses import IGNORE


class _Opened:
    def __init__(self, labelled: LabelledScene, split: str, scale: int) -> None:
        self.scene = StackedScene(labelled.scene, scale)
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
        jitter: float = 0.1,
    ) -> None:
        self.scenes, self.split, self.spec = list(scenes), split, spec
        self.chip_size, self.augment, self.jitter_strength = chip_size, augment, jitter
        # Jitter imitates illumination, so only bands of reflected light get it.
        steady = TERRAIN_BANDS | {"ndvi"}
        self._jitter = np.array([c not in steady for c in spec.channels])
        self._opened: dict[int, list[_Opened | None]] = {}

    def _scene(self, index: int) -> _Opened:
        per_process = self._opened.setdefault(os.getpid(), [None] * len(self.scenes))
        if per_process[index] is None:
            per_process[index] = _Opened(self.scenes[index], self.split, self.spec.scale)
        return per_process[index]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_opened": {}}

    def read(self, ref: ChipRef) -> tuple[np.ndarray, np.ndarray]:
        """The prepared chip (C, S, S) and its target (S, S), before augmentation."""
        opened = self._scene(ref.scene)
        scene, size = opened.scene, self.chip_size
        window = Window(ref.col, ref.row, size, size)
        x, valid = read_prepared(scene, self.spec, window)
        affine = window_transform(window, scene.transform)
        bounds = _bounds(affine, size)
        target = burn(_clipped(opened.landslides, bounds), affine, (size, size))
        if not _covered(opened.own, bounds):
            target[burn(_clipped(opened.own, bounds), affine, (size, size)) == 0] = IGNORE
        target[~valid] = IGNORE
        return x, target

    def __getitem__(self, ref: ChipRef) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = self.read(ref)
        if self.augment and ref.seed is not None:
            rng = np.random.default_rng(ref.seed)
            image, target = augment(image, target, rng, self._jitter, self.jitter_strength)
        return torch.from_numpy(np.ascontiguousarray(image)), torch.from_numpy(
            np.ascontiguousarray(target)
        )

    def close(self) -> None:
        for opened in self._opened.get(os.getpid(), []):
            if opened is not None:
                opened.scene.close()
        self._opened.pop(os.getpid(), None)


def read_prepared(
    scene: StackedScene, spec: InputSpec, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """A window inside the scene, prepared, and its validity; derived bands from a halo.

    The halo is read as far as the scene reaches, as `read_region` does at
    prediction, so a chip's slope and relief are those of the whole scene.
    """
    halo = spec.halo(scene.res)
    col, row = int(window.col_off), int(window.row_off)
    width, height = int(window.width), int(window.height)
    c0, r0 = max(col - halo, 0), max(row - halo, 0)
    c1, r1 = min(col + width + halo, scene.width), min(row + height + halo, scene.height)
    raw, valid = scene.read(Window(c0, r0, c1 - c0, r1 - r0))
    core = (slice(row - r0, row - r0 + height), slice(col - c0, col - c0 + width))
    return spec.prepare(raw, valid, scene.res, core), valid[core]


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
    image: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
    jitter: np.ndarray,
    strength: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Dihedral flips/rotations and brightness/contrast jitter of the optical bands.

    Landslides have no preferred orientation in a chip, so all eight
    symmetries are fair; terrain bands keep their values (slope and relief
    do not change with a rotation). Another scene of the same valley is lit
    and exposed differently: with `strength` s, contrast varies by 1 +- s,
    brightness by +- s/2, and each optical band by +- s/4 more (a colour cast).
    """
    k = int(rng.integers(4))
    image, target = np.rot90(image, k, axes=(1, 2)), np.rot90(target, k)
    if rng.random() < 0.5:
        image, target = image[:, :, ::-1], target[:, ::-1]
    if jitter.any() and strength > 0:
        image = image.copy()
        contrast = rng.uniform(1 - strength, 1 + strength)
        brightness = rng.uniform(-strength / 2, strength / 2)
        cast = rng.uniform(-strength / 4, strength / 4, int(jitter.sum()))[:, None, None]
        image[jitter] = image[jitter] * contrast + brightness + cast
    return image, target
