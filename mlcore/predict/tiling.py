"""Where prediction looks: window blocks of a scene and the chips that cover each block.

Chips sit on one lattice for the whole scene (it depends only on the scene's
size, the chip size and the overlap), and a block takes every chip that
touches its core. So a pixel is blended from the same chips whatever the
block size, and a scene split into blocks over several workers gives the
same probabilities as one pass. Chips stay inside the scene (the last one in
a row or column is shifted back to the edge), as training chips did; only a
scene smaller than a chip is padded.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
from rasterio.windows import Window

from mlcore.errors import MlcoreError


def chip_starts(length: int, chip_size: int, stride: int) -> list[int]:
    """Chip offsets along one axis: every `stride` pixels, the last one flush with the edge."""
    if length <= chip_size:
        return [0]
    starts = list(range(0, length - chip_size, stride))
    starts.append(length - chip_size)
    return starts


@dataclass(frozen=True)
class Block:
    """One unit of prediction work: a core window of a scene and the chip lattice it uses.

    Plain integers only, so a block travels as JSON to a Celery worker
    (`to_dict` / `from_dict`); the scene size is kept so that a worker can
    refuse a scene that is not the one the block was planned on.
    """

    index: int
    count: int
    col: int
    row: int
    width: int
    height: int
    chip_size: int
    overlap: int
    scene_width: int
    scene_height: int

    @property
    def window(self) -> Window:
        return Window(self.col, self.row, self.width, self.height)

    @property
    def stride(self) -> int:
        return self.chip_size - self.overlap

    def chips(self) -> list[tuple[int, int]]:
        """(row, col) scene offsets of the lattice chips that touch the core, row-major."""
        rows = _touching(self.scene_height, self.chip_size, self.stride, self.row, self.height)
        cols = _touching(self.scene_width, self.chip_size, self.stride, self.col, self.width)
        return [(r, c) for r in rows for c in cols]

    def region(self) -> Window:
        """The window those chips cover; it may reach outside a scene smaller than a chip."""
        chips = self.chips()
        row0, col0 = chips[0]
        row1, col1 = chips[-1]
        size = self.chip_size
        return Window(col0, row0, col1 + size - col0, row1 + size - row0)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> Block:
        return cls(**{k: int(v) for k, v in data.items()})


def _touching(length: int, chip: int, stride: int, start: int, size: int) -> list[int]:
    starts = chip_starts(length, chip, stride)
    first = bisect.bisect_right(starts, start - chip)
    last = bisect.bisect_left(starts, start + size)
    return starts[first:last]


def check_tiling(chip_size: int, overlap: int, block_size: int) -> None:
    """Refuse chip, overlap and block sizes that cannot tile a scene, with the reason."""
    if chip_size < 16 or chip_size % 16:
        raise MlcoreError(f"The chip size must be a multiple of 16 pixels, not {chip_size}.")
    if not 0 <= overlap <= chip_size // 2:
        raise MlcoreError(
            f"The overlap must be from 0 to half the chip size ({chip_size // 2} px), "
            f"not {overlap}."
        )
    if block_size < 64:
        raise MlcoreError(f"The block size must be at least 64 pixels, not {block_size}.")


def plan_grid(
    width: int, height: int, *, chip_size: int, overlap: int, block_size: int
) -> list[Block]:
    """Blocks of `block_size` tiling a `width` x `height` scene, row by row."""
    check_tiling(chip_size, overlap, block_size)
    origins = [
        (row, col) for row in range(0, height, block_size) for col in range(0, width, block_size)
    ]
    return [
        Block(
            index=i,
            count=len(origins),
            col=col,
            row=row,
            width=min(block_size, width - col),
            height=min(block_size, height - row),
            chip_size=chip_size,
            overlap=overlap,
            scene_width=width,
            scene_height=height,
        )
        for i, (row, col) in enumerate(origins)
    ]


@cache
def blend_weights(chip_size: int) -> np.ndarray:
    """A 2-D Hann window: chip centres count fully, chip borders (where a network lacks
    context and would draw seams) almost not at all. Never zero, so the scene edge,
    covered by one chip border only, still gets that chip's value after normalising.
    """
    ramp = np.sin(np.pi * (np.arange(chip_size) + 0.5) / chip_size) ** 2
    weights = np.outer(ramp, ramp).astype(np.float32)
    weights.setflags(write=False)
    return weights
