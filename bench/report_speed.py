"""How long an accuracy report takes for 10,000 and 100,000 predicted/reference polygon pairs.

    .venv/bin/python bench/report_speed.py [--sizes 10000 100000] [--resolution 10]
        [--real ../shared/data/inventories/wenchuan_2009_predicted_shp.zip] [--copies 1 10]

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
  files       write_report: JSON, CSV, PNG/SVG plots, the TP/FP/FN map, GeoPackage with tp/fp/fn

Real polygons (--real, the 10,335-polygon Wenchuan 2008 inventory, 784,000
vertices): the reference is the inventory, the prediction a copy of it
shifted by 2 m and buffered by 3 m; `--copies 10` tiles both 10 times side by
side (5 x 2, 103,350 polygons each). Each case runs `build_report` in a fresh
process at the default resolution (as `python -m mlcore evaluate` does) and
prints its wall time, the RSS of the imports alone and with the inputs built,
and the peak RSS (VmHWM, reset once the inputs are built) during the report.
Targets for 100,000 real polygons: under 60 s and under 2 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.evaluation.area_frequency import area_frequency, log_bin_edges  # noqa: E402
from mlcore.evaluation.objects import match_objects, overlap_pairs  # noqa: E402
from mlcore.evaluation.report import build_report  # noqa: E402
from mlcore.evaluation.report_files import write_report  # noqa: E402

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


REAL = Path(__file__).resolve().parent.parent.parent / "shared/data/inventories"
WENCHUAN = REAL / "wenchuan_2009_predicted_shp.zip"


def vm_hwm_mb() -> float:
    """This process's peak RSS so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def real_inventories(path: Path, copies: int) -> tuple[gpd.GeoDataFrame, ...]:
    """Reference = the inventory, prediction = it shifted 2 m and buffered 3 m, each tiled
    `copies` times (5 per row) beside itself; EPSG:4326 frames as the web app passes them.

    The buffer has mitred joins, so the prediction has about the reference's vertex count
    (round joins would add an arc at every corner: 3.6 million vertices instead of 0.7).
    Copies are made and reprojected one at a time, so building the inputs holds little
    more than the inputs themselves.
    """
    frame = gpd.read_file(f"zip://{path}" if path.suffix == ".zip" else path)
    to_lonlat = Transformer.from_crs(frame.crs, 4326, always_xy=True)
    ref_base = np.asarray(frame.geometry.values)
    pred_base = shapely.buffer(
        shapely.transform(ref_base, lambda xy: xy + (2.0, 0.0)), 3.0, join_style="mitre"
    )
    xmin, ymin, xmax, ymax = shapely.total_bounds(np.concatenate([ref_base, pred_base]))
    step_x, step_y = (xmax - xmin) * 1.05, (ymax - ymin) * 1.05
    refs, preds = [], []
    for i in range(copies):
        offset = np.array([(i % 5) * step_x, (i // 5) * step_y])

        def lonlat(xy: np.ndarray, offset=offset) -> np.ndarray:
            x, y = to_lonlat.transform(xy[:, 0] + offset[0], xy[:, 1] + offset[1])
            return np.column_stack([x, y])

        refs.append(shapely.transform(ref_base, lonlat))
        preds.append(shapely.transform(pred_base, lonlat))
    east, north = xmax + (min(copies, 5) - 1) * step_x, ymax + ((copies - 1) // 5) * step_y
    box = shapely.segmentize(shapely.box(xmin, ymin, east, north), 1000.0)
    area = shapely.transform(box, lonlat_of(to_lonlat))
    del ref_base, pred_base
    return tuple(
        gpd.GeoDataFrame(geometry=np.concatenate(g) if isinstance(g, list) else [g], crs=4326)
        for g in (preds, refs, area)
    )


def lonlat_of(transformer: Transformer):
    def lonlat(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return lonlat


def reset_peak_rss() -> None:
    """Start VmHWM again from the current RSS (Linux: write 5 to clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def real_case_child(path: Path, copies: int) -> None:
    """One real-polygon report in this (fresh) process; prints one JSON line."""
    imports_mb = vm_hwm_mb()
    pred, ref, area = real_inventories(path, copies)
    vertices = int(shapely.get_num_coordinates(np.asarray(ref.geometry.values)).sum())
    gc.collect()
    reset_peak_rss()  # the report's peak from here, with its inputs in memory
    inputs_mb = vm_hwm_mb()
    cpu = time.process_time()
    report, seconds = timed(lambda: build_report(pred, ref, area))
    cpu = time.process_time() - cpu
    m = report.objects
    print(
        json.dumps(
            {
                "copies": copies,
                "polygons": len(ref),
                "vertices": vertices,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "imports_mb": imports_mb,
                "inputs_mb": inputs_mb,
                "peak_mb": vm_hwm_mb(),
                "grid": f"{report.grid.width}x{report.grid.height} at {report.grid.resolution:g} m",
                "pixel_f1": report.pixel.scores().f1,
                "pixel_iou": report.pixel.scores().iou,
                "pixels": [report.pixel.tp, report.pixel.fp, report.pixel.fn],
                "object_f1": m.f1,
                "tp": m.tp,
                "stages": report.timings_s,
            }
        )
    )


def real_case(path: Path, copies: int) -> None:
    child = [sys.executable, __file__, "--child", str(copies), "--real", str(path)]
    out = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
    verdict = ""
    if out["polygons"] >= 100_000:
        met = out["seconds"] < 60 and out["peak_mb"] < 2048
        verdict = f"  (target < 60 s and < 2 GB: {'met' if met else 'NOT met'})"
    print(
        f"real x{copies:<3} {out['polygons']:>7,} vs {out['polygons']:,} polygons "
        f"({out['vertices']:,} vertices each side): report {out['seconds']:5.1f} s "
        f"({out['cpu_seconds']:.1f} CPU-s), "
        f"peak RSS {out['peak_mb']:,.0f} MB during it (imports {out['imports_mb']:.0f} MB, inputs "
        f"{out['inputs_mb']:,.0f} MB){verdict}\n"
        f"          grid {out['grid']}, pixel F1 {out['pixel_f1']:.4f}, "
        f"object F1 {out['object_f1']:.4f}, TP {out['tp']:,}; stages {out['stages']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--resolution", type=float, default=10.0)
    parser.add_argument("--real", type=Path, default=WENCHUAN, help="a real inventory file")
    parser.add_argument("--copies", type=int, nargs="*", default=[1, 10])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        real_case_child(args.real, args.child)
        return
    for n in args.sizes:
        bench(n, args.resolution)
    for copies in args.copies if args.real.exists() else []:
        real_case(args.real, copies)


if __name__ == "__main__":
    main()
