"""How long an accuracy report takes for 10,000 and 100,000 predicted/reference polygon pairs.

    .venv/bin/python bench/report_speed.py [--sizes 10000 100000] [--resolution 10]

The reference is star-shaped polygons of 24 vertices with power-law areas
(alpha 2.4, from 50 m2) scattered over a square; the prediction keeps 90% of
them, shifted, rescaled and re-drawn so IoUs spread around 0.5, and adds 10%
false positives. Inputs are GeoDataFrames in EPSG:4326, as the web app passes
them, so reprojection to the working CRS is part of the full report.

Printed per size, in seconds:
  match       overlap_pairs + match_objects in both modes, polygons already projected
  areafreq    area_frequency of both inventories (log bins, CSN tail fit, rollover)
  report      build_report end to end: reading frames, reprojection, clipping,
              pixel counts on a grid of --resolution metres (cell count printed),
              objects, area-frequency
  files       write_report: JSON, CSV, PNG/SVG plots, GeoPackage with tp/fp/fn
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.areafreq import area_frequency, log_bin_edges  # noqa: E402
from mlcore.objects import match_objects, overlap_pairs  # noqa: E402
from mlcore.report import build_report  # noqa: E402
from mlcore.report_files import write_report  # noqa: E402

UTM = "EPSG:32647"
ORIGIN = (450_000.0, 3_400_000.0)
VERTICES = 24


def star_polygons(rng, centres, areas) -> np.ndarray:
    """Random star-shaped (so always simple) elongated polygons of roughly the given areas."""
    n = len(areas)
    theta = np.linspace(0, 2 * np.pi, VERTICES, endpoint=False)
    aspect = rng.uniform(1.0, 3.0, n)[:, None]
    turn = rng.uniform(0, np.pi, n)[:, None]
    wobble = rng.uniform(0.85, 1.15, (n, VERTICES))
    radius = np.sqrt(areas / np.pi)[:, None]
    x = radius * np.sqrt(aspect) * np.cos(theta) * wobble
    y = radius / np.sqrt(aspect) * np.sin(theta) * wobble
    xr = x * np.cos(turn) - y * np.sin(turn) + centres[:, :1]
    yr = x * np.sin(turn) + y * np.cos(turn) + centres[:, 1:]
    return shapely.polygons(np.stack([xr, yr], axis=-1))


def inventories(n: int, seed: int = 0) -> tuple[gpd.GeoDataFrame, ...]:
    """Predicted, reference and area frames (EPSG:4326) with about n polygons each."""
    rng = np.random.default_rng(seed)
    areas = np.minimum(50.0 * (1 - rng.random(n)) ** (-1 / 1.4), 2e5)
    side = math.sqrt(areas.sum() * 25)
    centres = np.asarray(ORIGIN) + rng.uniform(0, side, (n, 2))
    ref = star_polygons(rng, centres, areas)

    kept = rng.random(n) < 0.9
    shift = rng.normal(0, 0.1, (n, 2)) * np.sqrt(areas)[:, None]
    scale = rng.lognormal(0, 0.15, n)
    pred = star_polygons(rng, (centres + shift)[kept], (areas * scale)[kept])
    n_fp = n - int(kept.sum())
    fp_areas = np.minimum(50.0 * (1 - rng.random(n_fp)) ** (-1 / 1.4), 2e5)
    fp = star_polygons(rng, np.asarray(ORIGIN) + rng.uniform(0, side, (n_fp, 2)), fp_areas)
    pred = np.concatenate([pred, fp])

    area = shapely.box(*ORIGIN, ORIGIN[0] + side, ORIGIN[1] + side)
    return tuple(
        gpd.GeoDataFrame(geometry=list(g), crs=UTM).to_crs(4326) for g in (pred, ref, [area])
    )


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench(n: int, resolution: float) -> None:
    pred, ref, area = inventories(n)
    pred_utm = np.asarray(pred.to_crs(UTM).geometry.values)
    ref_utm = np.asarray(ref.to_crs(UTM).geometry.values)

    def match():
        pairs = overlap_pairs(pred_utm, ref_utm)
        match_objects(pred_utm, ref_utm, pairs=pairs)
        match_objects(pred_utm, ref_utm, pairs=pairs, mode="any_overlap")
        return pairs

    pairs, t_match = timed(match)
    p_area, r_area = shapely.area(pred_utm), shapely.area(ref_utm)
    edges = log_bin_edges(p_area, r_area)
    _, t_freq = timed(lambda: (area_frequency(p_area, edges_m2=edges), area_frequency(r_area)))
    report, t_report = timed(lambda: build_report(pred, ref, area, resolution=resolution))
    with tempfile.TemporaryDirectory() as tmp:
        _, t_files = timed(lambda: write_report(report, tmp))
    grid = report.grid
    m = report.objects
    print(
        f"n={n:>7,}  pairs={len(pairs.iou):>7,}  match {t_match:6.2f}  areafreq {t_freq:5.2f}  "
        f"report {t_report:6.2f}  files {t_files:6.2f}   "
        f"(grid {grid.width}x{grid.height} at {grid.resolution:g} m; "
        f"TP {m.tp:,} FP {len(m.fp):,} FN {len(m.fn):,}; stages {report.timings_s})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--resolution", type=float, default=10.0)
    args = parser.parse_args()
    for n in args.sizes:
        bench(n, args.resolution)


if __name__ == "__main__":
    main()
