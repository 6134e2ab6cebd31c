"""From a probability map to the polygons a mapper would draw, with settings chosen on validation.

A network's mask is not an inventory: thresholded as it is, one landslide
comes out as a dozen fragments and specks, with pinholes where a boulder
shaded the scar. `Postprocess` holds what turns the map into polygons
(threshold, opening and closing radii, the smallest landslide, the largest
hole that is filled, simplification), `tune_postprocess` chooses them on the
validation extents by pixel and object F1 together (so the threshold is
chosen on objects as well as pixels), and the choice is saved in the model
directory's config.json, so that every prediction path (the CLI, the app's
job, a split run's merge) draws the same polygons from the same map.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize, shapes
from scipy import ndimage

from mlcore.errors import MlcoreError
from mlcore.predict.vectorize import areas_m2, vectorize
from mlcore.raster.geotiff import SceneReader

# The search space: a few values each, since every candidate is a vectorising pass.
_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
_OPENINGS = (1, 3)
_CLOSINGS = (1, 4)
_MIN_AREAS_M2 = (0.0, 200.0, 600.0, 1500.0)
_NECKS = (0, 4, 8)


@dataclass(frozen=True, kw_only=True)
class Postprocess:
    """How a probability map becomes polygons; radii in pixels of the map, areas in m2.

    `max_hole_m2` None fills holes smaller than the smallest landslide
    (`min_area_m2`); `neck_px` splits a polygon where it narrows to under
    twice that many pixels, when each side is large enough to be a landslide
    (two scars that touch are one blob in a mask, but a mapper draws two);
    `simplify_px` smooths the pixel staircase of outlines by that many pixels
    (topology kept), which also makes the files small.
    """

    threshold: float = 0.5
    opening: int = 1
    closing: int = 1
    min_area_m2: float = 0.0
    max_hole_m2: float | None = None
    neck_px: int = 0
    simplify_px: float = 0.0

    def validate(self) -> Postprocess:
        if not 0 <= self.threshold <= 1:
            raise MlcoreError(f"The threshold must be between 0 and 1, not {self.threshold}.")
        if min(self.opening, self.closing, self.min_area_m2, self.simplify_px, self.neck_px) < 0:
            raise MlcoreError("Post-processing radii, areas and simplification cannot be negative.")
        return self

    def polygons(self, prob_path: str | Path, *, block_size: int = 2048) -> gpd.GeoDataFrame:
        """The polygons of a probability map written by prediction."""
        vectorized = self.vectorized(prob_path, block_size=block_size)
        return self.finished(vectorized, _transform(prob_path))

    def vectorized(self, prob_path: str | Path, *, block_size: int = 2048) -> gpd.GeoDataFrame:
        """The map thresholded, cleaned and outlined (before any size filter)."""
        return vectorize(
            prob_path,
            threshold=self.threshold,
            opening=self.opening,
            closing=self.closing,
            max_hole_m2=self.max_hole_m2 if self.max_hole_m2 is not None else self.min_area_m2,
            block_size=block_size,
        )

    def finished(self, frame: gpd.GeoDataFrame, transform: Affine) -> gpd.GeoDataFrame:
        """Vectorised polygons split at necks, filtered by size and simplified."""
        frame = frame[frame["area_m2"] >= self.min_area_m2].reset_index(drop=True)
        frame = split_necks(frame, self.neck_px, transform, self.min_area_m2)
        frame = frame[frame["area_m2"] >= self.min_area_m2].reset_index(drop=True)
        return simplify(frame, self.simplify_px, min(abs(transform.a), abs(transform.e)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, threshold: float | None = None) -> Postprocess:
        """From config.json; a model trained before post-processing was saved keeps its
        threshold and the plain vectorising it was predicted with then."""
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        if not data and threshold is not None:
            known["threshold"] = threshold
        return cls(**known).validate()

    def overridden(
        self, *, threshold: float | None = None, min_area_m2: float | None = None
    ) -> Postprocess:
        """These settings with what a user chose for this prediction (None keeps the model's)."""
        changes: dict[str, Any] = {}
        if threshold is not None:
            changes["threshold"] = threshold
        if min_area_m2 is not None and min_area_m2 > 0:
            changes["min_area_m2"] = max(min_area_m2, self.min_area_m2)
        return replace(self, **changes).validate()


def simplify(frame: gpd.GeoDataFrame, pixels: float, pixel_size: float) -> gpd.GeoDataFrame:
    if pixels <= 0 or frame.empty:
        return frame
    """Outlines simplified by `pixels` pixels; `area_m2` is then the simplified outline's."""
    geoms = shapely.simplify(frame.geometry.values, pixels * pixel_size, preserve_topology=True)
    out = frame.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs, index=frame.index))
    out["area_m2"] = areas_m2(np.asarray(geoms, dtype=object), frame.crs)
    return out


def _transform(prob_path: str | Path) -> Affine:
    with SceneReader(prob_path) as reader:
        return Affine(*reader.info.transform)


def split_necks(
    frame: gpd.GeoDataFrame, neck_px: int, transform: Affine, min_area_m2: float
) -> gpd.GeoDataFrame:
    """Polygons cut where they narrow to under 2 * neck_px pixels, on the map's pixel grid.

    The cores left after eroding a polygon by `neck_px` are its parts; each
    pixel goes to the nearest core. A part smaller than `min_area_m2` is not
    cut off (a spur of one landslide is not another), so small blobs stay
    whole. Parts keep their polygon's probability columns.
    """
    if neck_px <= 0 or frame.empty:
        return frame
    rows, geoms = [], []
    for index, geom in zip(frame.index, frame.geometry.values, strict=True):
        parts = _split_one(geom, neck_px, transform, min_area_m2, frame.crs)
        rows += [index] * len(parts)
        geoms += parts
    out = frame.loc[rows].reset_index(drop=True)
    out = out.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs))
    out["area_m2"] = areas_m2(np.asarray(geoms, dtype=object), frame.crs)
    return out


def _split_one(geom, neck_px: int, t: Affine, min_area_m2: float, crs) -> list:
    inverse = ~t
    xs, ys = np.asarray(geom.exterior.coords).T
    cols, rows = inverse * (xs, ys)
    c0, r0 = int(np.floor(cols.min())) - 1, int(np.floor(rows.min())) - 1
    c1, r1 = int(np.ceil(cols.max())) + 1, int(np.ceil(rows.max())) + 1
    local = t * Affine.translation(c0, r0)
    mask = rasterize([geom], out_shape=(r1 - r0, c1 - c0), transform=local).astype(bool)
    distance = ndimage.distance_transform_edt(mask)
    cores, n = ndimage.label(distance > neck_px)
    if n < 2:
        return [geom]
    pixel_m2 = float(areas_m2(np.array([shapely.box(0, 0, abs(t.a), abs(t.e))]), crs)[0])
    sizes = np.bincount(cores.ravel(), minlength=n + 1)[1:]
    # A core grows back by about neck_px all round: judge a part by that grown size.
    grown = (np.sqrt(sizes) + 2 * neck_px) ** 2 * pixel_m2
    big = [i + 1 for i in range(n) if grown[i] >= min_area_m2]
    if len(big) < 2:
        return [geom]
    seeds = np.where(np.isin(cores, big), cores, 0)
    _, (near_r, near_c) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    labels = np.where(mask, seeds[near_r, near_c], 0).astype(np.int32)
    parts = []
    for part, value in shapes(labels, mask=labels > 0, connectivity=4, transform=local):
        parts.append((int(value), shapely.geometry.shape(part)))
    merged = {}
    for value, part in parts:
        merged.setdefault(value, []).append(part)
    pieces = [shapely.intersection(shapely.union_all(p), geom) for p in merged.values()]
    pieces = [p for p in pieces if not p.is_empty]
    polygons = []
    for piece in pieces:
        polygons += list(getattr(piece, "geoms", [piece]))
    return [p for p in polygons if p.geom_type == "Polygon"] or [geom]


@dataclass(frozen=True)
class Validation:
    """One probability map of validation ground with its reference polygons and extent."""

    probability: Path
    landslides: gpd.GeoDataFrame
    extent: gpd.GeoDataFrame


@dataclass
class Tuned:
    postprocess: Postprocess
    pixel_f1: float
    object_f1: float
    candidates: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "postprocess": self.postprocess.to_dict(),
            "pixel_f1": self.pixel_f1,
            "object_f1": self.object_f1,
            "candidates": self.candidates,
        }


def tune_postprocess(
    validations: Sequence[Validation],
    *,
    simplify_px: float = 1.0,
    thresholds: Sequence[float] = _THRESHOLDS,
    iou_threshold: float = 0.5,
) -> Tuned:
    """The settings with the best pixel F1 + object F1 over the validation maps, summed.

    Objects and pixels both count because each alone is gamed: pixels reward
    one blob over all the landslides, objects reward dropping the hard ones.
    Ties go to the larger minimum area and the threshold nearest 0.5, the
    more cautious choice on ground the model has not seen.
    """
    from mlcore.evaluation.report import (
        build_report,  # report builds on vectorize, as this module does
    )

    if not validations:
        raise MlcoreError("Choosing post-processing needs at least one validation map.")
    best: tuple[tuple[float, ...], Tuned] | None = None
    count = 0
    for threshold, opening, closing in itertools.product(thresholds, _OPENINGS, _CLOSINGS):
        base = Postprocess(
            threshold=threshold,
            opening=opening,
            closing=closing,
            max_hole_m2=max(_MIN_AREAS_M2),
            simplify_px=simplify_px,
        )
        plain = [
            (_within(base.vectorized(v.probability), v.extent), _transform(v.probability))
            for v in validations
        ]
        for neck, min_area in itertools.product(_NECKS, _MIN_AREAS_M2):
            count += 1
            candidate = replace(base, neck_px=neck, min_area_m2=min_area)
            pixel_sum, object_sum = 0.0, 0.0
            for (frame, transform), v in zip(plain, validations, strict=True):
                kept = candidate.finished(frame, transform)
                report = build_report(kept, v.landslides, v.extent, iou_threshold=iou_threshold)
                pixel_sum += report.pixel.scores().f1 or 0.0
                object_sum += report.objects.f1 or 0.0
            n = len(validations)
            tuned = Tuned(candidate, pixel_sum / n, object_sum / n, 0)
            key = (
                round(tuned.pixel_f1 + tuned.object_f1, 4),
                min_area,
                -neck,
                -abs(threshold - 0.5),
                -opening,
                -closing,
            )
            if best is None or key > best[0]:
                best = (key, tuned)
    assert best is not None
    best[1].candidates = count
    return best[1]


def _within(frame: gpd.GeoDataFrame, extent: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The polygons that touch the validation extent (the map covers more than it)."""
    area = shapely.union_all(extent.to_crs(frame.crs).geometry.values)
    return frame[frame.intersects(area)].reset_index(drop=True)


def validation_frames(
    landslides: Sequence[Any], extents: Sequence[Any], crs: Any
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Reference polygons and extent shapes as frames in `crs`, for `Validation`."""
    ref = gpd.GeoDataFrame(geometry=list(landslides), crs=crs)
    area = gpd.GeoDataFrame(
        geometry=[shapely.union_all(np.asarray(extents, dtype=object))], crs=crs
    )
    return ref, area
