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

from mlcore.errors import MlcoreError
from mlcore.vectorize import areas_m2, vectorize

# The search space: a few values each, since every candidate is a vectorising pass.
_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
_OPENINGS = (1, 3)
_CLOSINGS = (1, 4)
_MIN_AREAS_M2 = (0.0, 200.0, 600.0, 1500.0)


@dataclass(frozen=True, kw_only=True)
class Postprocess:
    """How a probability map becomes polygons; radii in pixels of the map, areas in m2.

    `max_hole_m2` None fills holes smaller than the smallest landslide
    (`min_area_m2`); `simplify_px` smooths the pixel staircase of outlines by
    that many pixels (topology kept), which also makes the files small.
    """

    threshold: float = 0.5
    opening: int = 1
    closing: int = 1
    min_area_m2: float = 0.0
    max_hole_m2: float | None = None
    simplify_px: float = 0.0

    def validate(self) -> Postprocess:
        if not 0 <= self.threshold <= 1:
            raise MlcoreError(f"The threshold must be between 0 and 1, not {self.threshold}.")
        if min(self.opening, self.closing, self.min_area_m2, self.simplify_px) < 0:
            raise MlcoreError("Post-processing radii, areas and simplification cannot be negative.")
        return self

    def polygons(self, prob_path: str | Path, *, block_size: int = 2048) -> gpd.GeoDataFrame:
        """The polygons of a probability map written by prediction."""
        frame = vectorize(
            prob_path,
            threshold=self.threshold,
            min_area_m2=self.min_area_m2,
            opening=self.opening,
            closing=self.closing,
            max_hole_m2=self.max_hole_m2,
            block_size=block_size,
        )
        return simplify(frame, self.simplify_px, _pixel_size(prob_path))

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


def _pixel_size(prob_path: str | Path) -> float:
    from mlcore.io import SceneReader

    with SceneReader(prob_path) as reader:
        xres, yres = reader.info.resolution
    return min(abs(xres), abs(yres))


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
    from mlcore.report import build_report  # report builds on vectorize, as this module does

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
        frames = [_within(base.polygons(v.probability), v.extent) for v in validations]
        for min_area in _MIN_AREAS_M2:
            count += 1
            pixel_sum, object_sum = 0.0, 0.0
            for frame, v in zip(frames, validations, strict=True):
                kept = frame[frame["area_m2"] >= min_area].reset_index(drop=True)
                report = build_report(kept, v.landslides, v.extent, iou_threshold=iou_threshold)
                pixel_sum += report.pixel.scores().f1 or 0.0
                object_sum += report.objects.f1 or 0.0
            n = len(validations)
            tuned = Tuned(replace(base, min_area_m2=min_area), pixel_sum / n, object_sum / n, 0)
            key = (
                round(tuned.pixel_f1 + tuned.object_f1, 4),
                min_area,
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
