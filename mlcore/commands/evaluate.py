"""`python -m mlcore evaluate`: an accuracy report of a prediction against a reference."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlcore.evaluation.report import build_report
from mlcore.evaluation.report_files import write_json, write_report

DESCRIPTION = """\
Compare predicted landslides with a reference inventory inside an evaluation
area: pixel scores, matched objects, areas, area-frequency distributions and,
for a probability map, the precision-recall curve. Writes the report as JSON
to --out; with --plots DIR also writes summary.csv, areafreq.png/.svg,
pr_curve.png and layers.gpkg (tp, fp, fn) into DIR.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="accuracy report of a prediction against a reference inventory",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--pred",
        required=True,
        type=Path,
        help="predicted polygons (GeoPackage or other vector file) or a probability GeoTIFF",
    )
    parser.add_argument("--ref", required=True, type=Path, help="reference polygons")
    parser.add_argument("--area", required=True, type=Path, help="evaluation area polygons")
    parser.add_argument("--out", required=True, type=Path, help="report JSON to write")
    parser.add_argument(
        "--iou",
        type=float,
        default=0.5,
        help="IoU a predicted and a reference polygon need to match (default 0.5)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="probability at or above which a pixel is a landslide (default 0.5)",
    )
    parser.add_argument(
        "--resolution",
        type=float,
        default=None,
        metavar="M",
        help="cell size in metres for pixel scores of polygon predictions "
        "(default 1 m, coarser for very large areas)",
    )
    parser.add_argument("--plots", type=Path, metavar="DIR", help="folder for CSV, plots, layers")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = build_report(
        args.pred,
        args.ref,
        args.area,
        iou_threshold=args.iou,
        resolution=args.resolution,
        threshold=args.threshold,
    )
    write_json(report, args.out)
    if args.plots is not None:
        write_report(report, args.plots)
    _print_summary(report, args.out)
    return 0


def _print_summary(report, out: Path) -> None:
    pixel, objects = report.pixel.scores(), report.objects
    print(
        f"pixel F1 {_fmt(pixel.f1)}, IoU {_fmt(pixel.iou)}; "
        f"objects TP {objects.tp} FP {len(objects.fp)} FN {len(objects.fn)}, "
        f"F1 {_fmt(objects.f1)}"
    )
    for warning in report.warnings:
        print(f"note: {warning}")
    print(f"report written to {out}")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
