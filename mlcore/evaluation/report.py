"""A whole accuracy report: predicted against reference landslides over an evaluation area.

`build_report` gathers pixel, object, area, area-frequency and (for a
probability map) precision-recall figures into one `Report`, whose
`to_json()` is plain JSON-safe data (no NaN: undefined scores are None) and
whose `layers()` are the TP/FP/FN polygons. Writing files is in
mlcore.evaluation.report_files, so the web app can keep the figures without them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from mlcore.errors import MlcoreError
from mlcore.evaluation import inputs
from mlcore.evaluation.area_frequency import AreaFrequency, area_frequency, log_bin_edges
from mlcore.evaluation.inputs import EvaluationInputError, Polygons
from mlcore.evaluation.metrics import ConfusionCounts, PrCurve
from mlcore.evaluation.objects import ObjectMatch, match_objects, overlap_pairs
from mlcore.evaluation.pixels import EvalGrid, grid_over, polygon_confusion
from mlcore.evaluation.probability_map import footprint, open_probability_map, scan_probability_map

PolygonInput = gpd.GeoDataFrame | str | Path
PredInput = PolygonInput  # or the path of a probability GeoTIFF
PROBABILITY_SUFFIXES = (".tif", ".tiff")
LAYER_CRS = "EPSG:4326"


@dataclass(frozen=True)
class ReportInputs:
    """What was compared, and how."""

    pred: str
    ref: str
    area: str
    pred_kind: str
    threshold: float | None
    iou_threshold: float
    working_crs: str
    evaluation_area_m2: float


@dataclass(frozen=True)
class AreaComparison:
    """Total landslide area of each inventory inside the evaluation area.

    Sums of the clipped polygons' areas: overlapping polygons within one
    inventory count twice (the pixel counts give the covered area).
    """

    pred_m2: float
    ref_m2: float
    ratio: float | None
    difference_m2: float
    pred_share_of_area: float
    ref_share_of_area: float


@dataclass
class Report:
    """Every figure of one comparison, plus the polygons behind the object figures."""

    inputs: ReportInputs
    grid: EvalGrid
    pixel: ConfusionCounts
    objects: ObjectMatch
    objects_any_overlap: ObjectMatch
    area: AreaComparison
    area_frequency: dict[str, AreaFrequency]
    probability: PrCurve | None
    pred: Polygons
    ref: Polygons
    pred_best_iou: np.ndarray
    ref_best_iou: np.ndarray
    working_crs: CRS
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    # The area actually evaluated, in the working CRS: the outline on the printed map.
    evaluated_area: shapely.Geometry | None = None

    def to_json(self, *, include_ids: bool = True) -> dict:
        """Everything as JSON-safe data; ids of TP/FP/FN features unless include_ids is False."""
        objects = self.objects.to_json()
        if include_ids:
            m = self.objects
            objects["ids"] = {
                "tp_pred": self.pred.ids[m.tp_pred].tolist(),
                "tp_ref": self.ref.ids[m.tp_ref].tolist(),
                "tp_iou": m.tp_iou.tolist(),
                "fp_pred": self.pred.ids[m.fp].tolist(),
                "fn_ref": self.ref.ids[m.fn].tolist(),
            }
        return {
            "inputs": asdict(self.inputs),
            "grid": self.grid.to_json(),
            "pixel": self.pixel.to_json(),
            "objects": objects,
            "objects_any_overlap": self.objects_any_overlap.to_json(),
            "area": asdict(self.area),
            "area_frequency": {k: v.to_json() for k, v in self.area_frequency.items()},
            "probability": self.probability.to_json() if self.probability else None,
            "warnings": list(self.warnings),
            "timings_s": dict(self.timings_s),
        }

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """TP (matched predictions), FP (unmatched predictions), FN (missed reference) in EPSG:4326.

        Geometries are the clipped ones that were compared; best_iou is the
        highest IoU with any polygon of the other inventory, to show near misses.
        """
        m, pred, ref = self.objects, self.pred, self.ref

        def frame(columns: dict, geoms: np.ndarray) -> gpd.GeoDataFrame:
            out = gpd.GeoDataFrame(columns, geometry=list(geoms), crs=self.working_crs)
            return out.to_crs(LAYER_CRS)

        return {
            "tp": frame(
                {
                    "pred_id": pred.ids[m.tp_pred],
                    "ref_id": ref.ids[m.tp_ref],
                    "iou": m.tp_iou,
                    "area_m2": pred.areas_m2[m.tp_pred],
                },
                pred.geoms[m.tp_pred],
            ),
            "fp": frame(
                {
                    "pred_id": pred.ids[m.fp],
                    "best_iou": self.pred_best_iou[m.fp],
                    "area_m2": pred.areas_m2[m.fp],
                },
                pred.geoms[m.fp],
            ),
            "fn": frame(
                {
                    "ref_id": ref.ids[m.fn],
                    "best_iou": self.ref_best_iou[m.fn],
                    "area_m2": ref.areas_m2[m.fn],
                },
                ref.geoms[m.fn],
            ),
        }


def build_report(
    pred: PredInput,
    ref: PolygonInput,
    area: PolygonInput,
    *,
    iou_threshold: float = 0.5,
    resolution: float | None = None,
    threshold: float = 0.5,
) -> Report:
    """Compare a prediction with a reference inventory inside an evaluation area.

    `pred` is predicted polygons (a GeoDataFrame or a vector file) or a
    probability GeoTIFF path (.tif/.tiff), which is thresholded at
    `threshold` and vectorised, and is evaluated on its own grid. Polygon
    predictions are rasterised for the pixel scores on a grid of
    `resolution` metres in the working CRS (see mlcore.evaluation.pixels.grid_over).
    """
    _check_fraction("IoU threshold", iou_threshold, allow_zero=False)
    _check_fraction("probability threshold", threshold, allow_zero=True)
    if resolution is not None and not resolution > 0:
        raise EvaluationInputError(f"The resolution must be positive metres, got {resolution}.")
    clock = _Clock()
    area_frame, area_name = _polygon_frame(area, "evaluation area")
    ref_frame, ref_name = _polygon_frame(ref, "reference")
    crs, area_geom = inputs.evaluation_area(area_frame, area_name)
    clock.lap("read")

    is_map = _is_probability_map(pred)
    if is_map:
        if resolution is not None:
            raise EvaluationInputError(
                f"{Path(pred).name} is a probability map, evaluated on its own grid; "
                "leave out the resolution."
            )
        sides = _compare_with_map(
            Path(pred), ref_frame, ref_name, area_geom, area_name, crs, threshold
        )
        clock.lap("pixels_and_vectorising")
    else:
        sides = _compare_polygons(pred, ref_frame, ref_name, area_geom, crs, resolution)
        clock.lap("clip_and_pixels")
    pred_polys, ref_polys = sides.pred, sides.ref

    pairs = overlap_pairs(pred_polys.geoms, ref_polys.geoms)
    objects = match_objects(
        pred_polys.geoms, ref_polys.geoms, iou_threshold=iou_threshold, pairs=pairs
    )
    any_overlap = match_objects(pred_polys.geoms, ref_polys.geoms, mode="any_overlap", pairs=pairs)
    pred_best = np.zeros(len(pred_polys))
    np.maximum.at(pred_best, pairs.pred, pairs.iou)
    ref_best = np.zeros(len(ref_polys))
    np.maximum.at(ref_best, pairs.ref, pairs.iou)
    clock.lap("objects")

    edges = log_bin_edges(pred_polys.areas_m2, ref_polys.areas_m2)
    freq = {
        "pred": area_frequency(pred_polys.areas_m2, edges_m2=edges),
        "ref": area_frequency(ref_polys.areas_m2, edges_m2=edges),
    }
    clock.lap("area_frequency")

    area_m2 = float(sides.area.area)
    return Report(
        inputs=ReportInputs(
            pred=pred_polys.name,
            ref=ref_name,
            area=area_name,
            pred_kind="probability" if is_map else "polygons",
            threshold=float(threshold) if is_map else None,
            iou_threshold=float(iou_threshold),
            working_crs=crs.to_string(),
            evaluation_area_m2=area_m2,
        ),
        grid=sides.grid,
        pixel=sides.pixel,
        objects=objects,
        objects_any_overlap=any_overlap,
        area=_compare_areas(pred_polys, ref_polys, area_m2),
        area_frequency=freq,
        probability=sides.curve,
        pred=pred_polys,
        ref=ref_polys,
        pred_best_iou=pred_best,
        ref_best_iou=ref_best,
        working_crs=crs,
        warnings=sides.warnings + _notes(pred_polys) + _notes(ref_polys),
        timings_s=clock.laps,
        evaluated_area=sides.area,
    )


@dataclass
class _Sides:
    """Both inventories clipped to the area actually evaluated, and their pixel counts."""

    pred: Polygons
    ref: Polygons
    area: shapely.Geometry
    pixel: ConfusionCounts
    grid: EvalGrid
    curve: PrCurve | None = None
    warnings: list[str] = field(default_factory=list)


def _compare_polygons(
    pred: PolygonInput,
    ref_frame: gpd.GeoDataFrame,
    ref_name: str,
    area: shapely.Geometry,
    crs: CRS,
    resolution: float | None,
) -> _Sides:
    pred_frame, pred_name = _polygon_frame(pred, "prediction")
    pred_polys = inputs.polygons_in_area(pred_frame, area, crs, pred_name)
    ref_polys = inputs.polygons_in_area(ref_frame, area, crs, ref_name)
    grid = grid_over(area, crs, resolution)
    pixel = polygon_confusion(pred_polys.geoms, ref_polys.geoms, area, grid)
    return _Sides(pred_polys, ref_polys, area, pixel, grid)


def _compare_with_map(
    path: Path,
    ref_frame: gpd.GeoDataFrame,
    ref_name: str,
    area: shapely.Geometry,
    area_name: str,
    crs: CRS,
    threshold: float,
) -> _Sides:
    """One pass over the map gives pixels, PR histogram and the predicted polygons."""
    warnings: list[str] = []
    with open_probability_map(path) as ds:
        area = _within_map(area, ds, crs, path.name, area_name, warnings)
        ref_polys = inputs.polygons_in_area(ref_frame, area, crs, ref_name)
        scan = scan_probability_map(
            ds,
            _reproject(ref_polys.geoms, crs, ds.crs),
            _reproject(np.array([area]), crs, ds.crs)[0],
            threshold=threshold,
        )
        pred_frame = gpd.GeoDataFrame(geometry=list(scan.polygons), crs=ds.crs)
    pred_polys = inputs.polygons_in_area(pred_frame, area, crs, path.name)
    curve = scan.histogram.pr_curve()
    return _Sides(pred_polys, ref_polys, area, scan.counts, scan.grid, curve, warnings + scan.notes)


def _polygon_frame(source: PolygonInput, role: str) -> tuple[gpd.GeoDataFrame, str]:
    if isinstance(source, gpd.GeoDataFrame):
        return inputs.check_polygon_frame(source, f"The {role}"), role
    return inputs.read_polygon_file(source), Path(source).name


def _is_probability_map(pred: PredInput) -> bool:
    return not isinstance(pred, gpd.GeoDataFrame) and (
        Path(pred).suffix.lower() in PROBABILITY_SUFFIXES
    )


def _within_map(
    area: shapely.Geometry, ds, crs: CRS, map_name: str, area_name: str, warnings: list[str]
) -> shapely.Geometry:
    """The part of the evaluation area the probability map covers; refused if none."""
    covered = _reproject(np.array([footprint(ds)]), ds.crs, crs)[0]
    inside = shapely.intersection(area, covered)
    if inside.is_empty or inside.area <= 0:
        raise EvaluationInputError(
            f"{map_name} does not overlap {area_name}; check that both cover the "
            "same place and carry the right CRS."
        )
    if inside.area < area.area * (1 - 1e-9):
        warnings.append(
            f"{map_name} covers {inside.area / area.area:.1%} of {area_name}; "
            "only that part was evaluated."
        )
    return inside


def _reproject(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    return np.asarray(gpd.GeoSeries(list(geoms), crs=src).to_crs(dst).values, dtype=object)


def _compare_areas(pred: Polygons, ref: Polygons, area_m2: float) -> AreaComparison:
    pred_m2, ref_m2 = float(pred.areas_m2.sum()), float(ref.areas_m2.sum())
    return AreaComparison(
        pred_m2=pred_m2,
        ref_m2=ref_m2,
        ratio=pred_m2 / ref_m2 if ref_m2 else None,
        difference_m2=pred_m2 - ref_m2,
        pred_share_of_area=pred_m2 / area_m2,
        ref_share_of_area=ref_m2 / area_m2,
    )


def _notes(polys: Polygons) -> list[str]:
    notes = []
    if polys.n_repaired:
        notes.append(f"{polys.name}: {polys.n_repaired} invalid polygons were repaired.")
    if polys.n_clipped:
        notes.append(
            f"{polys.name}: {polys.n_clipped} polygons cross the evaluation area's edge; "
            "only their inside parts were compared."
        )
    return notes


def _check_fraction(what: str, value: float, *, allow_zero: bool) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise MlcoreError(f"The {what} must be in {bound}, got {value}.")


class _Clock:
    """Seconds spent in each stage, reported so slow stages show in the report."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = self._start = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.pop("total", None)
        self.laps[name] = round(now - self._last, 3)
        self.laps["total"] = round(now - self._start, 3)
        self._last = now
