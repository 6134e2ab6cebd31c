"""What the network sees: source bands, derived bands, and their normalisation.

`InputSpec` is stored in a model directory so that prediction prepares a
window exactly as training prepared a chip. Ranges come from the 2nd and
98th percentiles of a decimated read, computed once, because a few extreme
pixels (glare, DSM spikes) would otherwise squash every other value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from mlcore.data.scenes import SceneError, StackedScene
from mlcore.raster import terrain

# Bands whose values are terrain, not light: radiometric jitter leaves them alone.
TERRAIN_BANDS = frozenset({"dsm", "dem", "elevation", "slope", "hillshade", "relief"})
ELEVATION_BANDS = ("dsm", "dem", "elevation")
# The radius of the surface that relief is measured against: wider than most
# slope failures' depth of scarp, narrow enough to tell a channel floor from a wall.
RELIEF_RADIUS_M = 40.0


@dataclass(frozen=True)
class BandRange:
    """Values from `low` to `high` map to 0..1; beyond, they are clipped to -1..2."""

    name: str
    low: float
    high: float


def _elevation(raw: np.ndarray, names: Sequence[str]) -> np.ndarray:
    return raw[next(names.index(n) for n in ELEVATION_BANDS if n in names)].astype(np.float64)


def _ndvi(raw, names, valid, res) -> np.ndarray:
    red, nir = raw[names.index("red")], raw[names.index("nir")]
    total = nir + red
    return np.divide(nir - red, total, out=np.zeros_like(total), where=total != 0)


def _slope(raw, names, valid, res) -> np.ndarray:
    """Slope in degrees by Horn's method (mlcore.raster.terrain), as the app's slope layer."""
    z, ok = np.pad(_elevation(raw, names), 1, mode="edge"), np.pad(valid, 1)
    return terrain.slope_degrees(*terrain.horn_gradients(z, ok, res[0], res[1]))


def _relief(raw, names, valid, res) -> np.ndarray:
    return terrain.relief(_elevation(raw, names), valid, _pixels(RELIEF_RADIUS_M, res))


def _pixels(metres: float, res: tuple[float, float]) -> int:
    return max(1, math.ceil(metres / min(abs(res[0]), abs(res[1]))))


@dataclass(frozen=True)
class DerivedBand:
    """A band computed from source bands: what it needs, its fixed range, how far it looks."""

    name: str
    needs: str  # "elevation" or "red+nir"
    low: float
    high: float
    reach_m: float | None  # None: one pixel (a 3x3 kernel), or nothing for a per-pixel band
    compute: Callable[..., np.ndarray]
    per_pixel: bool = False

    def halo(self, res: tuple[float, float]) -> int:
        if self.per_pixel:
            return 0
        return 1 if self.reach_m is None else _pixels(self.reach_m, res)


# Derived bands have physical ranges, so they need no statistics.
_DERIVED = {
    band.name: band
    for band in (
        DerivedBand("ndvi", "red+nir", -1.0, 1.0, None, _ndvi, per_pixel=True),
        DerivedBand("slope", "elevation", 0.0, 90.0, None, _slope),
        DerivedBand("relief", "elevation", -20.0, 20.0, RELIEF_RADIUS_M, _relief),
    )
}
DERIVED_BANDS = tuple(_DERIVED)
# What a model is given from a DEM or DSM by default: its shape, not its height.
TERRAIN_DEFAULT = ("slope", "relief")


def check_derivable(derived: Sequence[str], names: Sequence[str]) -> None:
    for name in derived:
        if name not in _DERIVED:
            raise SceneError(
                f"Unknown derived band {name!r}; choose from: {', '.join(DERIVED_BANDS)}."
            )
        needs = _DERIVED[name].needs
        if needs == "red+nir" and not {"red", "nir"} <= set(names):
            raise SceneError(f"NDVI needs bands named red and nir; the scene has {list(names)}.")
        if needs == "elevation" and not set(ELEVATION_BANDS) & set(names):
            raise SceneError(
                f"{name.capitalize()} needs a band named dsm, dem or elevation; "
                f"the scene has {list(names)}."
            )


def has_elevation(names: Sequence[str]) -> bool:
    return bool(set(ELEVATION_BANDS) & set(names))


def plan_inputs(
    names: Sequence[str], derived: Sequence[str] | None, keep_elevation: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(derived bands, dropped source bands) for scenes with these band names.

    `derived` None means the default: the terrain bands when the scene has
    an elevation band. Absolute elevation is dropped from the network's input
    (it is read to derive the terrain bands) unless `keep_elevation`.
    """
    if derived is None:
        derived = TERRAIN_DEFAULT if has_elevation(names) else ()
    check_derivable(derived, names)
    dropped = () if keep_elevation else tuple(n for n in names if n in ELEVATION_BANDS)
    if dropped and not derived:
        dropped = ()  # elevation alone still says something; never give the network nothing
    return tuple(derived), dropped


def input_channels(
    names: Sequence[str], derived: Sequence[str] | None = None, keep_elevation: bool = False
) -> list[str]:
    """The network's input channels for scenes with these band names, in order."""
    derived, dropped = plan_inputs(names, derived, keep_elevation)
    return [n for n in names if n not in dropped] + list(derived)


@dataclass(frozen=True)
class InputSpec:
    """The source band names (in stacking order), derived bands, and one range per channel.

    `dropped` source bands are read only to derive others (absolute
    elevation): they are not channels. `scale` is the model's grid: the
    scene's pixels averaged in scale x scale blocks (mlcore.data.scenes).
    """

    bands: tuple[str, ...]
    derived: tuple[str, ...]
    ranges: tuple[BandRange, ...]
    dropped: tuple[str, ...] = ()
    scale: int = 1

    @property
    def channels(self) -> list[str]:
        return [*(b for b in self.bands if b not in self.dropped), *self.derived]

    def halo(self, res: tuple[float, float]) -> int:
        """Pixels around a window that its derived bands look at (res: the model grid's)."""
        return max((_DERIVED[name].halo(res) for name in self.derived), default=0)

    def prepare(
        self,
        raw: np.ndarray,
        valid: np.ndarray,
        res: tuple[float, float],
        core: tuple[slice, slice] | None = None,
    ) -> np.ndarray:
        """Derive, normalise and zero the invalid pixels of a (bands, rows, cols) window.

        With `core`, raw and valid carry a halo (see `halo`) and the result is
        the core's; derived bands then equal those of the whole scene.
        """
        core = core or (slice(None), slice(None))
        extra = [_DERIVED[n].compute(raw, self.bands, valid, res)[core][None] for n in self.derived]
        keep = [i for i, b in enumerate(self.bands) if b not in self.dropped]
        x = np.concatenate([raw[keep][:, core[0], core[1]], *extra], axis=0).astype(np.float32)
        low = np.array([r.low for r in self.ranges], dtype=np.float32)[:, None, None]
        span = np.array([max(r.high - r.low, 1e-6) for r in self.ranges], dtype=np.float32)
        x -= low
        x /= span[:, None, None]
        np.clip(x, -1.0, 2.0, out=x)
        x[:, ~valid[core]] = 0.0
        return x

    def to_dict(self) -> dict:
        return {
            "bands": list(self.bands),
            "derived": list(self.derived),
            "dropped": list(self.dropped),
            "scale": self.scale,
            "normalisation": [{"band": r.name, "low": r.low, "high": r.high} for r in self.ranges],
        }

    @classmethod
    def from_dict(cls, data: dict) -> InputSpec:
        ranges = tuple(BandRange(r["band"], r["low"], r["high"]) for r in data["normalisation"])
        dropped, scale = tuple(data.get("dropped", ())), int(data.get("scale", 1))
        return cls(tuple(data["bands"]), tuple(data["derived"]), ranges, dropped, scale)


def _sample(
    scene: StackedScene, max_side: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A decimated read of the whole scene, or random windows when that would read it all.

    Without overviews GDAL decimates by reading every block, which for a
    10^9-pixel scene takes minutes; 64 windows tell the percentiles as well.
    """
    if scene.has_overviews or max(scene.width, scene.height) <= 4 * max_side:
        scale = max(1.0, max(scene.width, scene.height) / max_side)
        shape = (max(1, round(scene.height / scale)), max(1, round(scene.width / scale)))
        return scene.read(Window(0, 0, scene.width, scene.height), out_shape=shape)
    side = min(256, scene.width, scene.height)
    reads = []
    for _ in range(64):
        col = int(rng.integers(0, scene.width - side + 1))
        row = int(rng.integers(0, scene.height - side + 1))
        reads.append(scene.read(Window(col, row, side, side)))
    return np.concatenate([d for d, _ in reads], axis=2), np.concatenate([v for _, v in reads], 1)


def compute_input_spec(
    scenes: Sequence[StackedScene],
    derived: Sequence[str] = (),
    *,
    dropped: Sequence[str] = (),
    max_side: int = 1024,
    max_samples: int = 2_000_000,
    seed: int = 0,
) -> InputSpec:
    """Percentile ranges per band over the valid pixels of decimated reads of `scenes`.

    `dropped` bands (absolute elevation) get no range: they are not channels.
    """
    names = scenes[0].band_names
    check_derivable(derived, names)
    rng = np.random.default_rng(seed)
    samples: list[np.ndarray] = []
    per_scene = max(1, max_samples // len(scenes))
    for scene in scenes:
        data, valid = _sample(scene, max_side, rng)
        values = data[:, valid]
        if values.shape[1] > per_scene:
            values = values[:, rng.choice(values.shape[1], per_scene, replace=False)]
        samples.append(values)
    pooled = np.concatenate(samples, axis=1)
    if pooled.shape[1] == 0:
        raise SceneError("The scenes hold no valid pixels (all nodata); check their nodata value.")
    low, high = np.percentile(pooled, [2, 98], axis=1)
    ranges = [
        BandRange(n, float(lo), float(hi))
        for n, lo, hi in zip(names, low, high, strict=True)
        if n not in dropped
    ]
    ranges += [BandRange(n, _DERIVED[n].low, _DERIVED[n].high) for n in derived]
    scale = scenes[0].scale
    return InputSpec(tuple(names), tuple(derived), tuple(ranges), tuple(dropped), scale)
