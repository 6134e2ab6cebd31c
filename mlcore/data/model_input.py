"""What a trained model is given at prediction: the scene's bands, checked and prepared.

Training's own pieces do the work (StackedScene stacks the rasters on the
first one's grid, InputSpec derives and normalises), so a window is prepared
for prediction exactly as a chip was for training. What is added here: the
check that the scene's rasters are the ones the model learnt from, and
reading a window that may reach outside the scene.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from mlcore.data.bands import InputSpec
from mlcore.data.scenes import SceneError, SceneSpec, StackedScene
from mlcore.raster.geotiff import open_geotiff

_STRIP_ROWS = 512


class BandMismatch(SceneError):
    """A scene whose bands are not those the model was trained on."""


def open_scene(
    paths: Sequence[str | Path], spec: InputSpec, config: dict[str, Any]
) -> StackedScene:
    """The stacked scene of `paths`, refused unless its bands are what the model expects."""
    scene = StackedScene(SceneSpec(list(paths)), spec.scale)
    try:
        check_bands(scene, spec, config)
    except BaseException:
        scene.close()
        raise
    return scene


def _fallback_names(scene_names: Sequence[str]) -> set[str]:
    """Names StackedScene makes up from file stems (`image_1`, `dem`) when bands are unnamed."""
    names: set[str] = set()
    for scene in scene_names:
        for file in scene.split(","):
            stem = Path(file).stem.lower()
            names.add(stem)
            names.update(f"{stem}_{i}" for i in range(1, 65))
    return names


def _described(paths: Sequence[Path]) -> list[bool]:
    known = []
    for path in paths:
        with open_geotiff(path) as ds:
            known += [bool(d) for d in ds.descriptions]
    return known


def check_bands(scene: StackedScene, spec: InputSpec, config: dict[str, Any]) -> None:
    """Same count; where both sides truly name a band, the same name; shared names in place.

    A band name made up from a file stem (no band description) is not a
    name anyone chose, so `post_1` may stand where training saw `image_1`;
    but a name found on both sides at different places means the rasters
    were given in another order.
    """
    expected, given = list(spec.bands), scene.band_names
    model_made_up = _fallback_names(config.get("scenes", {}).get("train", []))
    described = _described(scene.spec.paths)
    wrong = len(expected) != len(given)
    if not wrong:
        for i, (want, got) in enumerate(zip(expected, given, strict=True)):
            named = described[i] and want not in model_made_up
            moved = got in expected and expected.index(got) != i
            wrong |= (named and want != got) or moved
    if wrong:
        raise BandMismatch(
            f"The model was trained on {len(expected)} bands ({', '.join(expected)}) but the "
            f"scene {scene.spec.name} gives {len(given)} ({', '.join(given)}); give the "
            "rasters of the scene, in the order the model was trained on."
        )


@dataclass
class Region:
    """A prepared window: channels (C, rows, cols) float32 and a validity mask (rows, cols)."""

    window: Window
    x: np.ndarray
    valid: np.ndarray


def read_region(scene: StackedScene, spec: InputSpec, window: Window) -> Region:
    """Prepare `window` as training prepared a chip; outside the scene is invalid and zero.

    StackedScene reads only inside the scene (a window reaching out would be
    resampled), so the inside part is read and placed in a zero array. It is
    read in strips of rows, each with the halo its derived bands look at
    (`InputSpec.halo`: slope one pixel, relief its radius), so a window's
    derived values are those of the whole scene and blocks agree at seams, and
    the transient copies of reading and normalising are a strip's, not the window's.
    """
    margin = spec.halo(scene.res)
    col, row = int(window.col_off), int(window.row_off)
    width, height = int(window.width), int(window.height)
    x = np.zeros((len(spec.channels), height, width), dtype=np.float32)
    valid = np.zeros((height, width), dtype=bool)
    c0, c1 = max(col - margin, 0), min(col + width + margin, scene.width)
    ic0, ic1 = max(col, 0), min(col + width, scene.width)
    for top in range(max(row, 0), min(row + height, scene.height), _STRIP_ROWS):
        bottom = min(top + _STRIP_ROWS, row + height, scene.height)
        r0 = max(top - margin, 0)
        r1 = min(bottom + margin, scene.height)
        raw, raw_valid = scene.read(Window(c0, r0, c1 - c0, r1 - r0))
        src = (slice(top - r0, bottom - r0), slice(ic0 - c0, ic1 - c0))
        dst = (slice(top - row, bottom - row), slice(ic0 - col, ic1 - col))
        x[:, dst[0], dst[1]] = spec.prepare(raw, raw_valid, scene.res, src)
        valid[dst] = raw_valid[src]
    return Region(window, x, valid)
