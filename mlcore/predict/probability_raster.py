"""The probability raster prediction writes: uint8, 0-254 for p x 254, 255 for nodata.

One byte per pixel keeps a 10^10-pixel map at 10 GB before compression
instead of 40; the step of 1/254 is far finer than any threshold anyone sets.
254 rather than 255 steps leaves 255 free for nodata, so "no data here"
(outside the scene, or nodata in any input band) never reads as "certain
landslide". The band's scale (1/254) says the same to GDAL and QGIS.

Blocks are written windowed into a tiled intermediate GeoTIFF, which then
becomes the COG; neither step holds the whole map in memory.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import DatasetWriter
from rasterio.windows import Window

from mlcore.atomic import atomic_path
from mlcore.errors import MlcoreError
from mlcore.predict.tiling import Block
from mlcore.raster.geotiff import open_geotiff, write_cog

SCALE = 254
NODATA = 255
BLOCK_TAG = "SCARP_BLOCK"
_ENCODING = "uint8 probability x 254 (0-254); 255 = nodata"


def encode(prob: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] to the stored bytes; invalid pixels become NODATA."""
    out = np.rint(np.clip(prob, 0.0, 1.0) * SCALE).astype(np.uint8)
    out[~valid] = NODATA
    return out


def threshold_value(threshold: float) -> int:
    """The smallest stored byte whose probability (byte / 254) is at least `threshold`."""
    if not 0.0 < threshold <= 1.0:
        raise MlcoreError(f"The threshold must be above 0 and at most 1, not {threshold}.")
    return int(np.ceil(threshold * SCALE - 1e-6))


def _profile(width: int, height: int, crs: CRS, transform: Affine) -> dict:
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
        "nodata": NODATA,
        "compress": "DEFLATE",
        "predictor": 2,
        "bigtiff": "IF_SAFER",
    }
    if width > 256 and height > 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    return profile


def _describe(dst: DatasetWriter) -> None:
    dst.scales = (1 / SCALE,)
    dst.offsets = (0.0,)
    dst.set_band_description(1, "landslide probability")
    dst.update_tags(SCARP_PROBABILITY=_ENCODING)


@contextlib.contextmanager
def probability_writer(
    out_path: Path, *, width: int, height: int, crs: CRS, transform: Affine
) -> Iterator[DatasetWriter]:
    """A dataset to write blocks into by window; on success it becomes the COG at out_path.

    The intermediate lives in a hidden folder beside out_path (same disk,
    nothing in RAM) and is removed whatever happens.
    """
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix=f".{out_path.name}.", dir=out_path.parent) as work:
        raw = Path(work) / "raw.tif"
        with rasterio.open(raw, "w", **_profile(width, height, crs, transform)) as dst:
            _describe(dst)
            yield dst
        write_cog(raw, out_path)


def write_block(
    block: Block, data: np.ndarray, *, crs: CRS, transform: Affine, out_dir: Path
) -> Path:
    """One block's core probabilities as a small GeoTIFF that `merge_blocks` can place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"block-{block.index:05d}-of-{block.count:05d}.tif"
    block_transform = rasterio.windows.transform(block.window, transform)
    profile = _profile(block.width, block.height, crs, block_transform)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        _describe(dst)
        dst.update_tags(**{BLOCK_TAG: json.dumps(block.to_dict())})
        dst.write(data, 1)
    return path


def read_block(
    path: Path, *, width: int, height: int, crs: CRS, transform: Affine
) -> tuple[Block, np.ndarray]:
    """A block file's Block and pixels, refused unless it was planned on this scene's grid."""
    with open_geotiff(path) as ds:
        tag = ds.tags().get(BLOCK_TAG)
        if tag is None:
            raise MlcoreError(f"{path.name} is not a block written by predict_block.")
        block = Block.from_dict(json.loads(tag))
        expected = rasterio.windows.transform(block.window, transform)
        same_grid = ds.crs == crs and ds.transform.almost_equals(expected)
        if (block.scene_width, block.scene_height) != (width, height) or not same_grid:
            raise MlcoreError(
                f"{path.name} was predicted on another scene ({block.scene_width} x "
                f"{block.scene_height} px) than this {width} x {height} one; "
                "merge the blocks of this scene only."
            )
        return block, ds.read(1)


def merge_block_files(
    block_paths: Sequence[Path],
    out_path: Path,
    *,
    width: int,
    height: int,
    crs: CRS,
    transform: Affine,
) -> Path:
    """Place every block file of one plan into one COG; refuse a plan with blocks missing."""
    seen: dict[int, Path] = {}
    count = None
    with probability_writer(
        out_path, width=width, height=height, crs=crs, transform=transform
    ) as dst:
        for path in block_paths:
            block, data = read_block(
                Path(path), width=width, height=height, crs=crs, transform=transform
            )
            if count is not None and block.count != count:
                raise MlcoreError(
                    f"{Path(path).name} belongs to a plan of {block.count} blocks, "
                    f"the others to one of {count}; merge the blocks of one plan only."
                )
            count = block.count
            if block.index in seen:
                raise MlcoreError(
                    f"Block {block.index} was given twice ({seen[block.index].name} and "
                    f"{Path(path).name})."
                )
            seen[block.index] = Path(path)
            dst.write(data, 1, window=Window(block.col, block.row, block.width, block.height))
        if count is None:
            raise MlcoreError("No block files were given to merge.")
        missing = sorted(set(range(count)) - set(seen))
        if missing:
            raise MlcoreError(
                f"Blocks {', '.join(map(str, missing[:20]))} of the plan of {count} are "
                "missing; predict them before merging."
            )
    return out_path
