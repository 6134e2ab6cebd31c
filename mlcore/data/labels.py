"""Labels and mapped extents, brought into each scene's CRS and rasterised on chips.

A landslide polygon means "landslide here"; its absence means "no landslide"
only inside a mapped extent. Extents carry a split role (train, validation,
test) so that the splits are spatially disjoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry

from mlcore.data.scenes import SceneSpec
from mlcore.errors import MlcoreError
from mlcore.vector.polygons import VectorFileError, read_polygons

SPLITS = ("train", "validation", "test")


class LabelError(MlcoreError):
    """Labels or extents that cannot be used, with the reason."""


def read_vector(path: str | Path) -> gpd.GeoDataFrame:
    """Read a landslide or extent file by the rules of an inventory import, in lon/lat.

    Through `mlcore.vector.polygons.read_polygons`, so the CLI opens a user's file as
    the web app does: a format Scarp knows, checked by its first bytes, the
    driver named, no link followed, every feature a polygon and a CRS declared.
    """
    path = Path(path)
    try:
        parsed = read_polygons(path)
    except VectorFileError as exc:
        raise LabelError(str(exc)) from None
    return parsed.frame.drop(columns=["area_m2", "repaired"])


def _polygons(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Repaired polygonal geometries only: make_valid may leave lines and points beside them."""
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty].copy()
    geoms = shapely.make_valid(frame.geometry.values)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
    frame = frame.explode(index_parts=False)
    return frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]


def check_extents(extents: gpd.GeoDataFrame, source: str = "the extents") -> None:
    if "split" not in extents.columns:
        raise LabelError(
            f"{source} have no 'split' column; give each mapped extent a split of "
            f"{', '.join(SPLITS)}."
        )
    bad = sorted(set(extents["split"].astype(str)) - set(SPLITS))
    if bad:
        raise LabelError(
            f"{source} have split values {bad} that are not one of {', '.join(SPLITS)}."
        )


@dataclass
class LabelledScene:
    """A scene with its landslides and mapped extents per split, in the scene's CRS."""

    scene: SceneSpec
    landslides: list[BaseGeometry]
    extents: dict[str, list[BaseGeometry]] = field(default_factory=dict)

    def extent_of(self, split: str) -> list[BaseGeometry]:
        return self.extents.get(split, [])

    def others_than(self, split: str) -> list[BaseGeometry]:
        return [g for s, geoms in self.extents.items() if s != split for g in geoms]


def label_scenes(
    scenes: Sequence[SceneSpec],
    landslides: Sequence[gpd.GeoDataFrame],
    extents: Sequence[gpd.GeoDataFrame],
) -> list[LabelledScene]:
    """Reproject every label and extent frame to each scene's CRS and keep what falls on it."""
    for frame in extents:
        check_extents(frame)
    out = []
    for spec in scenes:
        with spec.open() as scene:
            crs, footprint = scene.crs, shapely.box(*scene.bounds)
        shapes = [g for f in landslides for g in _on_scene(f, crs, footprint).geometry]
        by_split: dict[str, list[BaseGeometry]] = {}
        for frame in extents:
            local = _on_scene(frame, crs, footprint)
            for split, geom in zip(local["split"].astype(str), local.geometry, strict=True):
                by_split.setdefault(split, []).append(geom)
        out.append(LabelledScene(spec, shapes, by_split))
    return out


def _on_scene(frame: gpd.GeoDataFrame, crs, footprint: BaseGeometry) -> gpd.GeoDataFrame:
    local = frame.to_crs(crs)
    local = _polygons(local.iloc[local.sindex.query(footprint, predicate="intersects")])
    local = local.set_geometry(local.geometry.intersection(footprint))
    return _polygons(local)


def burn(
    geoms: Sequence[BaseGeometry],
    transform: Affine,
    shape: tuple[int, int],
    *,
    all_touched: bool = False,
) -> np.ndarray:
    """A uint8 mask of `shape` on the grid `transform`: 1 inside any of `geoms`."""
    if not len(geoms):
        return np.zeros(shape, dtype=np.uint8)
    return rasterize(
        ((g, 1) for g in geoms),
        out_shape=shape,
        transform=transform,
        fill=0,
        all_touched=all_touched,
        dtype="uint8",
    )
