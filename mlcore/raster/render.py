"""Map tiles from a scene's COG: band presets, display stretch, colour maps.

Django-free so the benchmark (and anyone else) can render the very tiles the
web app serves. A style is resolved once from the scene's band names and
stored statistics; a tile is then one windowed read through rio-tiler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from rasterio.warp import transform_bounds
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

from mlcore.errors import MlcoreError
from mlcore.raster.geotiff import open_geotiff

MIN_ZOOM = 0
MAX_ZOOM = 24
TILE_SIZES = (256, 512)
MAX_BANDS = 3
FORMATS = {"png": "PNG", "webp": "WEBP", "auto": "auto"}
# JPEG for tiles where every pixel has data: at the scene's resolution about a tenth
# of a PNG of the same imagery and several times faster to encode; quality 85 keeps
# edges clean.
JPEG_QUALITY = 85

# Each preset names the bands it needs, in display order (red, green, blue
# channels); every band is a list of names a scene may use for it.
_RED = ("red", "r", "b4", "band 1")
_GREEN = ("green", "g", "b3", "band 2")
_BLUE = ("blue", "b", "b2", "band 3")
_NIR = ("nir", "near-infrared", "nearinfrared", "b8", "b5_landsat", "nir08")
_SWIR = ("swir", "swir2", "swir22", "b12", "swir1", "swir16", "b11")
PRESETS: dict[str, tuple[tuple[str, ...], ...]] = {
    "truecolor": (_RED, _GREEN, _BLUE),
    "falsecolor": (_NIR, _RED, _GREEN),
    "swir": (_SWIR, _NIR, _RED),
    "single": (),
}
PRESET_LABELS = {
    "truecolor": "True colour",
    "falsecolor": "False colour (NIR)",
    "swir": "SWIR",
    "single": "Single band",
}

# What a single-band layer of each scene kind looks like by default; None is grey.
DEFAULT_COLORMAPS: dict[str, str | None] = {
    "optical": None,
    "dem": "terrain",
    "slope": "ylorrd",
    "hillshade": None,
    "probability": "magma",
}
SUGGESTED_COLORMAPS = ("gray", "terrain", "gist_earth", "ylorrd", "magma", "viridis", "turbo")


class RenderError(MlcoreError):
    """A tile request that cannot be served as asked; the message says what to change."""


@dataclass(frozen=True)
class TileStyle:
    """How to turn a scene's pixels into a picture: which bands, stretched how, coloured how."""

    bands: tuple[int, ...]
    stretch: tuple[tuple[float, float], ...]
    colormap: str | None = None

    def key(self) -> str:
        """A stable text form, for cache validators."""
        stretch = ";".join(f"{lo:.6g},{hi:.6g}" for lo, hi in self.stretch)
        return f"b={','.join(map(str, self.bands))}|s={stretch}|c={self.colormap or ''}"


def available_presets(band_names: Sequence[str], kind: str = "optical") -> list[str]:
    """The presets this scene can show: the colour ones whose bands it has, and single."""
    names = [n.strip().lower() for n in band_names]
    found = [
        preset
        for preset, wanted in PRESETS.items()
        if wanted and kind == "optical" and _find_bands(names, wanted) is not None
    ]
    return [*found, "single"]


def default_preset(band_names: Sequence[str], kind: str = "optical") -> str:
    return available_presets(band_names, kind)[0]


def style_for(
    *,
    preset: str,
    band_names: Sequence[str],
    band_stats: Sequence[dict],
    kind: str = "optical",
    bands: Sequence[int] | None = None,
    colormap: str | None = None,
    scene_name: str = "the scene",
) -> TileStyle:
    """Resolve a preset (or explicit bands) against a scene, or refuse with a sentence.

    The stretch comes from the stored 2nd and 98th percentiles, so a tile looks
    the same wherever it is cut and no request reads statistics from the file.
    """
    if preset not in PRESETS:
        raise RenderError(f"Unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
    count = len(band_names)
    if bands:
        if len(bands) > MAX_BANDS:
            raise RenderError(
                f"At most {MAX_BANDS} bands can be shown at once; {len(bands)} were asked."
            )
        bad = [b for b in bands if not 1 <= b <= count]
        if bad:
            raise RenderError(f"{scene_name} has bands 1 to {count}; band {bad[0]} does not exist.")
        chosen = tuple(bands)
    elif preset == "single":
        chosen = (1,)
    else:
        lowered = [n.strip().lower() for n in band_names]
        found = _find_bands(lowered, PRESETS[preset])
        if found is None:
            raise RenderError(
                f"{scene_name} has no bands for the {PRESET_LABELS[preset]} preset (its bands "
                f"are {', '.join(band_names) or 'unnamed'}); choose another preset or name the "
                "bands with ?bands=."
            )
        chosen = found
    if preset == "single" and len(chosen) != 1:
        raise RenderError("The single preset shows one band; give one band number in ?bands=.")
    if preset != "single" and len(chosen) not in (1, 3):
        raise RenderError("A colour preset shows one or three bands; give three in ?bands=.")
    if colormap is not None and len(chosen) != 1:
        raise RenderError("A colour map applies to one band only; use the single preset.")
    if len(chosen) == 1 and colormap is None:
        colormap = DEFAULT_COLORMAPS.get(kind)
    if colormap is not None:
        colormap = colormap.lower()
        if colormap == "gray":
            colormap = None
        elif colormap not in _colormap_names():
            raise RenderError(
                f"Unknown colour map {colormap!r}; try one of {', '.join(SUGGESTED_COLORMAPS)}."
            )
    stretch = tuple(_stretch(band_stats, b) for b in chosen)
    return TileStyle(bands=chosen, stretch=stretch, colormap=colormap)


def check_tile(z: int, x: int, y: int, tilesize: int) -> None:
    """Refuse tile addresses and sizes outside the caps before any file is opened."""
    if not MIN_ZOOM <= z <= MAX_ZOOM:
        raise RenderError(f"Zoom {z} is outside the served range {MIN_ZOOM} to {MAX_ZOOM}.")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise RenderError(f"Tile {z}/{x}/{y} does not exist: x and y run from 0 to {2**z - 1}.")
    if tilesize not in TILE_SIZES:
        raise RenderError(
            f"Tile size {tilesize} is not served; use {' or '.join(map(str, TILE_SIZES))}."
        )


def render_tile(
    path: str | Path,
    *,
    z: int,
    x: int,
    y: int,
    style: TileStyle,
    tilesize: int = 256,
    img_format: str = "png",
) -> bytes | None:
    """One web-mercator tile as PNG, WebP or "auto" bytes, nodata transparent; None outside.

    "auto" picks per tile: JPEG where every pixel of the tile has data, PNG
    where some must stay transparent (nodata, the scene's edge).

    Only the part of the tile the scene covers is read and warped. Asking
    rio-tiler for the whole tile would warp it at the scene's full
    resolution: a small scene without overviews seen from zoom 10 took
    seconds per tile. The file goes through `open_geotiff`, so only the
    GTiff driver reads it.
    """
    check_tile(z, x, y, tilesize)
    if img_format not in FORMATS:
        raise RenderError(f"Format {img_format!r} is not served; use png, webp or auto.")
    with open_geotiff(path) as dataset, Reader(str(path), dataset=dataset) as src:
        window = _covered(src, z, x, y, tilesize)
        if window is None:
            return None
        bbox, (row0, row1, col0, col1) = window
        try:
            part = src.part(
                bbox,
                dst_crs=src.tms.rasterio_crs,
                bounds_crs=src.tms.rasterio_crs,
                height=row1 - row0,
                width=col1 - col0,
                indexes=style.bands,
            )
        except TileOutsideBounds:
            return None
    data = part.array
    if not (~np.ma.getmaskarray(data)).any():
        return None
    if (row1 - row0, col1 - col0) != (tilesize, tilesize):
        canvas = np.ma.masked_all((data.shape[0], tilesize, tilesize), dtype=data.dtype)
        canvas[:, row0:row1, col0:col1] = data
        data = canvas
    image = ImageData(data).rescale(in_range=style.stretch)
    colormap = cmap.get(style.colormap) if style.colormap else None
    if img_format == "auto":
        if image.mask.min() == 255 and not _transparent_colormap(style.colormap):
            return image.render(img_format="JPEG", colormap=colormap, quality=JPEG_QUALITY)
        img_format = "png"
    return image.render(img_format=FORMATS[img_format], colormap=colormap)


@lru_cache(maxsize=32)
def _transparent_colormap(name: str | None) -> bool:
    """Whether a colour map makes some values transparent (then a tile needs PNG)."""
    colours = cmap.get(name).values() if name else ()
    return any(len(c) > 3 and c[3] < 255 for c in colours)


def _covered(src: Reader, z: int, x: int, y: int, tilesize: int):
    """The scene's part of a tile: its mercator bbox snapped to tile pixels, and those pixels.

    None when the scene does not reach into the tile.
    """
    left, bottom, right, top = src.tms.xy_bounds(x, y, z)
    s_left, s_bottom, s_right, s_top = transform_bounds(
        src.crs, src.tms.rasterio_crs, *src.bounds, densify_pts=21
    )
    per_metre = tilesize / (right - left)
    col0 = max(0, math.floor((s_left - left) * per_metre))
    col1 = min(tilesize, math.ceil((s_right - left) * per_metre))
    row0 = max(0, math.floor((top - s_top) * per_metre))
    row1 = min(tilesize, math.ceil((top - s_bottom) * per_metre))
    if col1 <= col0 or row1 <= row0:
        return None
    bbox = (
        left + col0 / per_metre,
        top - row1 / per_metre,
        left + col1 / per_metre,
        top - row0 / per_metre,
    )
    return bbox, (row0, row1, col0, col1)


@lru_cache(maxsize=4)
def empty_tile(tilesize: int, img_format: str) -> bytes:
    """A fully transparent tile: what every request outside a scene answers (PNG for auto)."""
    data = np.zeros((1, tilesize, tilesize), dtype="uint8")
    image = ImageData(np.ma.MaskedArray(data, mask=np.ones_like(data, dtype=bool)))
    return image.render(img_format="PNG" if img_format == "auto" else FORMATS[img_format])


@lru_cache(maxsize=1)
def _colormap_names() -> frozenset[str]:
    return frozenset(cmap.list())


def _find_bands(lowered: list[str], wanted: tuple[tuple[str, ...], ...]) -> tuple[int, ...] | None:
    chosen = []
    for aliases in wanted:
        index = next((i for i, name in enumerate(lowered) if name in aliases), None)
        if index is None:
            return None
        chosen.append(index + 1)
    return tuple(chosen)


def _stretch(band_stats: Sequence[dict], band: int) -> tuple[float, float]:
    """The display range of a band from its stored percentiles; a flat band gets a unit range."""
    stats = band_stats[band - 1] if band - 1 < len(band_stats) else {}
    low = float(stats.get("p2", 0.0))
    high = float(stats.get("p98", 255.0))
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        high = low + 1.0
    return low, high
