"""Scenes: one place's rasters stacked as bands on the grid of the first one.

A post-event image and a DEM rarely share a grid; the other rasters are
warped onto the first one's with a WarpedVRT (bilinear), window by window,
so nothing is ever read whole. A StackedScene holds open GDAL handles: open
it in the process that reads (each DataLoader worker opens its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio.coords
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import MaskFlags, Resampling
from rasterio.io import DatasetReader
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from mlcore.errors import MlcoreError
from mlcore.raster.geotiff import open_geotiff


class SceneError(MlcoreError):
    """A scene whose rasters cannot be stacked, with the reason."""


@dataclass
class SceneSpec:
    """One place: its rasters, stacked as bands on the first one's grid.

    `band_names`, when given, name the stacked bands instead of the files'
    band descriptions: the web app knows what a user called each band (and
    that a DEM's one band is elevation) even where the stored COG is silent.
    """

    paths: list[Path]
    band_names: list[str] | None = None

    def __post_init__(self) -> None:
        self.paths = [Path(p) for p in self.paths]
        if not self.paths:
            raise SceneError("A scene needs at least one raster.")

    @property
    def name(self) -> str:
        return ",".join(p.name for p in self.paths)

    def open(self) -> StackedScene:
        return StackedScene(self)


@dataclass
class _Source:
    dataset: DatasetReader | WarpedVRT
    count: int
    nodata: float | None
    alpha: int | None = None
    per_dataset_mask: bool = False
    owners: list = field(default_factory=list)


def _band_names(src: DatasetReader, stem: str) -> list[str]:
    names = []
    for i, desc in enumerate(src.descriptions, start=1):
        if desc:
            names.append(desc.strip().lower())
        else:
            names.append(stem if src.count == 1 else f"{stem}_{i}")
    return names


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


class StackedScene:
    """Open rasters of one scene, read by windows of the first raster's grid.

    With `scale` s > 1 the grid is the first raster's with pixels s times
    larger (the last partial row and column dropped): each pixel is the
    mean of the s x s source pixels under it, valid only if all of them are.
    A model working on 1 m pixels of a 0.5 m scene sees four times the
    ground per chip for the same compute, which is what whole landslides and
    their surroundings need; every reader of the scene (training, prediction,
    blocks, merging) uses the same grid, so their results agree.
    """

    def __init__(self, spec: SceneSpec, scale: int = 1) -> None:
        if scale < 1:
            raise SceneError(
                f"The scale must be a whole number of pixels, at least 1, not {scale}."
            )
        self.spec = spec
        self.scale = int(scale)
        self._sources: list[_Source] = []
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        first = open_geotiff(self.spec.paths[0])
        self._sources.append(self._direct(first))
        if first.crs is None:
            raise SceneError(
                f"{self.spec.paths[0].name} has no coordinate reference system; "
                "assign one (e.g. with gdal_edit.py -a_srs) and try again."
            )
        self.crs: CRS = first.crs
        self.transform: Affine = first.transform
        self.width: int = first.width
        self.height: int = first.height
        self.res: tuple[float, float] = first.res
        self.bounds = first.bounds
        self._native = (first.width, first.height)
        names = _band_names(first, self.spec.paths[0].stem)
        for path in self.spec.paths[1:]:
            src = open_geotiff(path)
            self._sources.append(self._aligned(src, path))
            names += _band_names(src, path.stem)
        if self.spec.band_names is not None:
            given = [n.strip().lower() for n in self.spec.band_names]
            if len(given) != len(names):
                raise SceneError(
                    f"{len(given)} band names were given for {self.spec.name}, which has "
                    f"{len(names)} bands; give one name per band."
                )
            names = given
        self.band_names: list[str] = _unique(names)
        if self.scale > 1:
            s = self.scale
            if min(self.width, self.height) < s:
                raise SceneError(
                    f"{self.spec.paths[0].name} is smaller than one model pixel ({s} x {s})."
                )
            self.transform = self.transform * Affine.scale(s)
            self.width, self.height = self.width // s, self.height // s
            self.res = (self.res[0] * s, self.res[1] * s)
            west, north = self.transform.c, self.transform.f
            east = west + self.transform.a * self.width
            south = north + self.transform.e * self.height
            self.bounds = rasterio.coords.BoundingBox(
                min(west, east), min(south, north), max(west, east), max(south, north)
            )

    @staticmethod
    def _direct(src: DatasetReader) -> _Source:
        per_dataset = src.nodata is None and MaskFlags.per_dataset in src.mask_flag_enums[0]
        return _Source(src, src.count, src.nodata, per_dataset_mask=per_dataset, owners=[src])

    def _aligned(self, src: DatasetReader, path: Path) -> _Source:
        if src.crs is None:
            src.close()
            raise SceneError(
                f"{path.name} has no coordinate reference system, so it cannot be placed "
                f"on the grid of {self.spec.paths[0].name}; assign one and try again."
            )
        same_grid = (
            src.crs == self.crs
            and src.transform.almost_equals(self.transform)
            and (src.width, src.height) == (self.width, self.height)
        )
        if same_grid:
            return self._direct(src)
        grid = {"crs": self.crs, "transform": self.transform, "width": self.width}
        grid["height"] = self.height
        if src.nodata is not None:
            vrt = WarpedVRT(src, resampling=Resampling.bilinear, nodata=src.nodata, **grid)
            return _Source(vrt, src.count, src.nodata, owners=[vrt, src])
        vrt = WarpedVRT(src, resampling=Resampling.bilinear, add_alpha=True, **grid)
        return _Source(vrt, src.count, None, alpha=src.count + 1, owners=[vrt, src])

    @property
    def count(self) -> int:
        return len(self.band_names)

    @property
    def has_overviews(self) -> bool:
        """Whether a decimated read is cheap (the first raster has overviews, as a COG does)."""
        return bool(self._sources[0].dataset.overviews(1))

    def read(
        self, window: Window, out_shape: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Bands as float32 (count, rows, cols) and a validity mask (rows, cols).

        A pixel is valid when no band holds nodata (or lies outside a warped
        raster's coverage). `out_shape` reads decimated, for statistics.
        """
        if self.scale > 1:
            return self._read_scaled(window, out_shape)
        return self._read_native(window, out_shape)

    def _read_scaled(
        self, window: Window, out_shape: tuple[int, int] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        s = self.scale
        rows, cols = int(window.height), int(window.width)
        native = Window(int(window.col_off) * s, int(window.row_off) * s, cols * s, rows * s)
        if out_shape is not None:
            return self._read_native(native, out_shape)
        data, valid = self._read_native(native, None)
        blocks = data.reshape(data.shape[0], rows, s, cols, s)
        mean = blocks.mean(axis=(2, 4), dtype=np.float64).astype(np.float32)
        return mean, valid.reshape(rows, s, cols, s).all(axis=(1, 3))

    def _read_native(
        self, window: Window, out_shape: tuple[int, int] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = out_shape or (int(window.height), int(window.width))
        arrays, valid = [], np.ones((rows, cols), dtype=bool)
        for source in self._sources:
            ds = source.dataset
            indexes = list(range(1, source.count + 1))
            shape = (source.count, rows, cols)
            data = ds.read(indexes, window=window, out_shape=shape, out_dtype="float32")
            if source.alpha is not None:
                valid &= ds.read(source.alpha, window=window, out_shape=(rows, cols)) > 0
            elif source.nodata is not None:
                nodata_hit = np.isnan(data) if np.isnan(source.nodata) else data == source.nodata
                valid &= ~nodata_hit.any(axis=0)
            elif source.per_dataset_mask:
                valid &= ds.read_masks(1, window=window, out_shape=(rows, cols)) > 0
            valid &= np.isfinite(data).all(axis=0)
            arrays.append(data)
        return np.concatenate(arrays, axis=0), valid

    def close(self) -> None:
        for source in self._sources:
            for owner in source.owners:
                owner.close()
        self._sources = []

    def __enter__(self) -> StackedScene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
