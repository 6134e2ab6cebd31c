"""Where chips come from: split-aware grids and samplers in pixel windows.

Each scene gets a coarse grid (cells of chip_size/8 pixels) on which its
extents are rasterised once. A chip may be drawn for a split only if its
footprint touches no extent of another split (other splits are burnt with
all_touched, so the test is conservative): a training chip never sees a
validation pixel, even one the loss would ignore. Pixels of the chip outside
its own split's extents are ignored by the loss, so chips may straddle the
edge of the mapped area; training chips need `min_coverage` of own extent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from affine import Affine

from mlcore.data.labels import LabelledScene, burn


@dataclass(frozen=True)
class ChipRef:
    """One chip: a window of a scene; `seed` drives its augmentation (None: none)."""

    scene: int
    row: int
    col: int
    seed: int | None = None


def _integral(mask: np.ndarray) -> np.ndarray:
    out = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int32)
    out[1:, 1:] = mask.astype(np.int32).cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32)
    return out


def _box(integral: np.ndarray, r0, r1, c0, c1) -> np.ndarray:
    """Sums over cells [r0, r1) x [c0, c1), vectorised, ends clipped to the grid."""
    r1 = np.minimum(r1, integral.shape[0] - 1)
    c1 = np.minimum(c1, integral.shape[1] - 1)
    return integral[r1, c1] - integral[r0, c1] - integral[r1, c0] + integral[r0, c0]


class SplitGrid:
    """The coarse masks of one scene for one split, and the chip windows they allow."""

    def __init__(
        self,
        labelled: LabelledScene,
        split: str,
        *,
        transform: Affine,
        width: int,
        height: int,
        chip_size: int,
    ) -> None:
        self.width, self.height, self.chip = width, height, chip_size
        cell = max(1, chip_size // 8)
        while (height / cell) * (width / cell) > 4e6:
            cell *= 2
        self.cell = cell
        shape = (-(-height // cell), -(-width // cell))
        coarse = transform @ Affine.scale(cell)
        own = labelled.extent_of(split)
        self._own = _integral(burn(own, coarse, shape))
        self._own_any = _integral(burn(own, coarse, shape, all_touched=True))
        self._foreign = _integral(
            burn(labelled.others_than(split), coarse, shape, all_touched=True)
        )
        landslide = burn(labelled.landslides, coarse, shape, all_touched=True)
        self._positive = _integral(landslide & burn(own, coarse, shape, all_touched=True))

    def _cells(self, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell span [first, last + 1) of windows starting at pixel `start`."""
        return start // self.cell, (start + self.chip - 1) // self.cell + 1

    def allowed(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Windows at these pixel origins that touch no other split's extent."""
        r0, r1 = self._cells(rows)
        c0, c1 = self._cells(cols)
        return _box(self._foreign, r0, r1, c0, c1) == 0

    def grid_windows(self, stride: int) -> list[tuple[int, int]]:
        """Windows on a regular grid that overlap this split's extent (for validation)."""
        rows, cols = _starts(self.height, self.chip, stride), _starts(self.width, self.chip, stride)
        rr, cc = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        r0, r1 = self._cells(rr)
        c0, c1 = self._cells(cc)
        keep = self.allowed(rr, cc) & (_box(self._own_any, r0, r1, c0, c1) > 0)
        return list(zip(rr[keep].tolist(), cc[keep].tolist(), strict=True))

    def anchors(self, min_coverage: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cell-aligned chip origins for training, and which have landslides near the centre.

        Returned origins stay allowed for any jitter below one cell: the
        foreign test covers the cells a jittered chip can reach.
        """
        k = -(-self.chip // self.cell)
        rows = np.arange(0, self.height - self.chip + 1, self.cell)
        cols = np.arange(0, self.width - self.chip + 1, self.cell)
        rr, cc = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        i, j = rr // self.cell, cc // self.cell
        ok = _box(self._foreign, i, i + k + 1, j, j + k + 1) == 0
        ok &= _box(self._own, i, i + k, j, j + k) >= min_coverage * k * k
        q = k // 4
        positive = _box(self._positive, i + q, i + k - q, j + q, j + k - q) > 0
        return rr[ok], cc[ok], positive[ok]


def _starts(size: int, chip: int, stride: int) -> np.ndarray:
    if size < chip:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(0, size - chip + 1, stride)
    if starts[-1] != size - chip:
        starts = np.append(starts, size - chip)
    return starts


def grid_refs(grids: list[SplitGrid], stride: int) -> list[ChipRef]:
    """Every validation window of every scene, in a fixed order, without augmentation."""
    return [ChipRef(s, r, c) for s, grid in enumerate(grids) for r, c in grid.grid_windows(stride)]


class ChipSampler(torch.utils.data.Sampler):
    """Random training chips, half (by default) centred near landslides.

    The chips of epoch e depend only on (seed, e), so a resumed run draws the
    same chips as an uninterrupted one; `start` skips chips already trained on.
    """

    def __init__(
        self,
        grids: list[SplitGrid],
        chips_per_epoch: int,
        *,
        seed: int,
        positive_fraction: float = 0.5,
        min_coverage: float = 0.5,
    ) -> None:
        self.grids, self.n, self.seed = grids, chips_per_epoch, seed
        self.positive_fraction = positive_fraction
        parts = [(s, *g.anchors(min_coverage)) for s, g in enumerate(grids)]
        self._scene = np.concatenate([np.full(len(p[1]), p[0]) for p in parts])
        self._row = np.concatenate([p[1] for p in parts])
        self._col = np.concatenate([p[2] for p in parts])
        self._positive = np.flatnonzero(np.concatenate([p[3] for p in parts]))
        self.epoch, self.start = 0, 0

    @property
    def available(self) -> int:
        return len(self._row)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def refs(self, epoch: int) -> list[ChipRef]:
        rng = np.random.default_rng([self.seed, epoch])
        pick = rng.integers(0, self.available, self.n)
        if len(self._positive):
            wants = rng.random(self.n) < self.positive_fraction
            pick[wants] = self._positive[rng.integers(0, len(self._positive), wants.sum())]
        seeds = rng.integers(0, 2**31 - 1, self.n)
        jitter = rng.random((self.n, 2))
        out = []
        for p, u, seed in zip(pick.tolist(), jitter, seeds.tolist(), strict=True):
            s, r, c = int(self._scene[p]), int(self._row[p]), int(self._col[p])
            g = self.grids[s]
            r += int(u[0] * min(g.cell, g.height - g.chip - r + 1))
            c += int(u[1] * min(g.cell, g.width - g.chip - c + 1))
            out.append(ChipRef(s, r, c, seed))
        return out

    def __iter__(self):
        return iter(self.refs(self.epoch)[self.start :])

    def __len__(self) -> int:
        return self.n - self.start
