"""What the network sees: source bands, derived bands, and their normalisation.

`InputSpec` is stored in a model directory so that prediction prepares a
window exactly as training prepared a chip. Ranges come from the 2nd and
98th percentiles of a decimated read, computed once, because a few extreme
pixels (glare, DSM spikes) would otherwise squash every other value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from mlcore.data.scenes import SceneError, StackedScene

# Bands whose values are terrain, not light: radiometric jitter leaves them alone.
TERRAIN_BANDS = frozenset({"dsm", "dem", "elevation", "slope", "hillshade"})
_ELEVATION = ("dsm", "dem", "elevation")
# Derived bands have physical ranges, so they need no statistics.
_DERIVED_RANGES = {"ndvi": (-1.0, 1.0), "slope": (0.0, 90.0)}
DERIVED_BANDS = tuple(_DERIVED_RANGES)


@dataclass(frozen=True)
class BandRange:
    """Values from `low` to `high` map to 0..1; beyond, they are clipped to -1..2."""

    name: str
    low: float
    high: float


def _ndvi(raw: np.ndarray, names: Sequence[str], res: tuple[float, float]) -> np.ndarray:
    red, nir = raw[names.index("red")], raw[names.index("nir")]
    total = nir + red
    return np.divide(nir - red, total, out=np.zeros_like(total), where=total != 0)


def _slope(raw: np.ndarray, names: Sequence[str], res: tuple[float, float]) -> np.ndarray:
    """Slope in degrees; edge pixels use one-sided differences."""
    z = raw[next(names.index(n) for n in _ELEVATION if n in names)]
    dz_dy, dz_dx = np.gradient(z, res[1], res[0])
    return np.degrees(np.arctan(np.hypot(dz_dx, dz_dy))).astype(np.float32)


_DERIVE = {"ndvi": _ndvi, "slope": _slope}


def check_derivable(derived: Sequence[str], names: Sequence[str]) -> None:
    for name in derived:
        if name not in _DERIVE:
            raise SceneError(
                f"Unknown derived band {name!r}; choose from: {', '.join(DERIVED_BANDS)}."
            )
        if name == "ndvi" and not {"red", "nir"} <= set(names):
            raise SceneError(f"NDVI needs bands named red and nir; the scene has {list(names)}.")
        if name == "slope" and not set(_ELEVATION) & set(names):
            raise SceneError(
                f"Slope needs a band named dsm, dem or elevation; the scene has {list(names)}."
            )


@dataclass(frozen=True)
class InputSpec:
    """The source band names (in stacking order), derived bands, and one range per channel."""

    bands: tuple[str, ...]
    derived: tuple[str, ...]
    ranges: tuple[BandRange, ...]

    @property
    def channels(self) -> list[str]:
        return [*self.bands, *self.derived]

    def prepare(self, raw: np.ndarray, valid: np.ndarray, res: tuple[float, float]) -> np.ndarray:
        """Derive, normalise and zero the invalid pixels of a (bands, rows, cols) window."""
        extra = [_DERIVE[name](raw, self.bands, res)[None] for name in self.derived]
        x = np.concatenate([raw, *extra], axis=0) if extra else raw.copy()
        low = np.array([r.low for r in self.ranges], dtype=np.float32)[:, None, None]
        span = np.array([max(r.high - r.low, 1e-6) for r in self.ranges], dtype=np.float32)
        x -= low
        x /= span[:, None, None]
        np.clip(x, -1.0, 2.0, out=x)
        x[:, ~valid] = 0.0
        return x

    def to_dict(self) -> dict:
        return {
            "bands": list(self.bands),
            "derived": list(self.derived),
            "normalisation": [{"band": r.name, "low": r.low, "high": r.high} for r in self.ranges],
        }

    @classmethod
    def from_dict(cls, data: dict) -> InputSpec:
        ranges = tuple(BandRange(r["band"], r["low"], r["high"]) for r in data["normalisation"])
        return cls(tuple(data["bands"]), tuple(data["derived"]), ranges)


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
    max_side: int = 1024,
    max_samples: int = 2_000_000,
    seed: int = 0,
) -> InputSpec:
    """Percentile ranges per band over the valid pixels of decimated reads of `scenes`."""
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
        BandRange(n, float(lo), float(hi)) for n, lo, hi in zip(names, low, high, strict=True)
    ]
    ranges += [BandRange(n, *_DERIVED_RANGES[n]) for n in derived]
    return InputSpec(tuple(names), tuple(derived), tuple(ranges))
