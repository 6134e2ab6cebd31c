"""Files of an accuracy report: JSON, a summary CSV, plots, the TP/FP/FN map and GeoPackage.

Plots are drawn on `matplotlib.figure.Figure` objects without pyplot, so
nothing global changes and any thread (a Celery worker) may draw them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
from matplotlib.figure import Figure

from mlcore.atomic import write_atomic
from mlcore.evaluation.area_frequency import AreaFrequency
from mlcore.evaluation.metrics import PrCurve
from mlcore.evaluation.outcome_map import plot_outcome_map
from mlcore.evaluation.report import Report

_COLOURS = {"pred": "#d95f02", "ref": "#1b9e77"}
_LABELS = {"pred": "predicted", "ref": "reference"}


@dataclass(frozen=True)
class ReportFiles:
    """Paths of the files `write_report` wrote."""

    json: Path
    csv: Path
    areafreq_png: Path
    areafreq_svg: Path
    pr_curve_png: Path | None
    layers: Path
    outcome_map_png: Path


def write_report(report: Report, out_dir: str | Path) -> ReportFiles:
    """Write report.json, summary.csv, areafreq.png/.svg, pr_curve.png, map.png and layers.gpkg."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pr_png = None
    if report.probability is not None:
        pr_png = out / "pr_curve.png"
        plot_pr_curve(report.probability, pr_png)
    plot_area_frequency(report.area_frequency, [out / "areafreq.png", out / "areafreq.svg"])
    return ReportFiles(
        json=write_json(report, out / "report.json"),
        csv=write_summary_csv(report, out / "summary.csv"),
        areafreq_png=out / "areafreq.png",
        areafreq_svg=out / "areafreq.svg",
        pr_curve_png=pr_png,
        layers=write_layers(report, out / "layers.gpkg"),
        outcome_map_png=plot_outcome_map(report, out / "map.png"),
    )


def write_json(report: Report, path: str | Path) -> Path:
    """Write the report's JSON atomically (a reader never sees half a file); NaN is refused."""
    path = Path(path)
    text = json.dumps(report.to_json(), indent=1, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, text)


def summary_rows(report: Report) -> list[tuple[str, str, object]]:
    """The headline figures as (section, metric, value) rows."""
    data = report.to_json(include_ids=False)
    rows: list[tuple[str, str, object]] = []
    rows += [("pixel", k, v) for k, v in data["pixel"]["counts"].items()]
    rows += [("pixel", k, v) for k, v in data["pixel"].items() if k != "counts"]
    for section in ("objects", "objects_any_overlap"):
        rows += [(section, k, v) for k, v in data[section].items() if k != "by_size"]
        for cls in data[section]["by_size"]:
            upper = "inf" if cls["upper_m2"] is None else f"{cls['upper_m2']:g}"
            label = f"{cls['lower_m2']:g}-{upper}m2"
            rows.append((section, f"recall_{label}", cls["recall"]))
            rows.append((section, f"precision_{label}", cls["precision"]))
    rows += [("area", k, v) for k, v in data["area"].items()]
    for which, freq in report.area_frequency.items():
        tail = freq.tail
        rows += [
            (f"area_frequency_{which}", "n", freq.n),
            (f"area_frequency_{which}", "alpha", tail.alpha if tail else None),
            (f"area_frequency_{which}", "alpha_se", tail.alpha_se if tail else None),
            (f"area_frequency_{which}", "xmin_m2", tail.xmin_m2 if tail else None),
            (f"area_frequency_{which}", "rollover_m2", freq.rollover_m2),
        ]
    if report.probability is not None:
        curve = report.probability
        rows += [
            ("probability", "average_precision", curve.average_precision),
            ("probability", "best_threshold", curve.best_threshold),
            ("probability", "best_f1", curve.best_f1),
        ]
    return rows


def write_summary_csv(report: Report, path: str | Path) -> Path:
    """One row per headline figure; an undefined score is an empty cell."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["section", "metric", "value"])
        for section, metric, value in summary_rows(report):
            writer.writerow(spreadsheet_safe([section, metric, "" if value is None else value]))
    return path


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(row: list) -> list:
    """The row with every text cell that a spreadsheet would run as a formula made text.

    A cell starting with = + - @, a tab or a carriage return gets a leading
    apostrophe (OWASP's CSV injection advice), so a name like
    '=HYPERLINK(...)' opens as the words typed. Numbers are left as numbers:
    -0.2 is a figure, not a formula.
    """
    return ["'" + c if isinstance(c, str) and c.startswith(_FORMULA_STARTS) else c for c in row]


def write_layers(report: Report, path: str | Path) -> Path:
    """The tp, fp and fn layers in one GeoPackage (empty layers included), replacing any old one."""
    path = Path(path)
    path.unlink(missing_ok=True)
    for name, frame in report.layers().items():
        pyogrio.write_dataframe(
            frame,
            path,
            layer=name,
            driver="GPKG",
            geometry_type="MultiPolygon",
            promote_to_multi=True,
            append=path.exists(),
        )
    return path


def plot_area_frequency(freq: dict[str, AreaFrequency], paths: list[Path]) -> None:
    """Both inventories' p(A) on log-log axes, with their fitted tails and rollovers."""
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for which, f in freq.items():
        centres, density = np.asarray(f.bin_centres_m2), np.asarray(f.density)
        shown = density > 0
        colour, label = _COLOURS.get(which), _LABELS.get(which, which)
        ax.plot(centres[shown], density[shown], "o", color=colour, label=f"{label} (n={f.n})")
        if f.tail is not None:
            tail_n_share = f.tail.n_tail / f.n
            largest = f.bin_edges_m2[int(np.flatnonzero(f.counts)[-1]) + 1]
            xs = np.logspace(np.log10(f.tail.xmin_m2), np.log10(largest), 50)
            # The tail's own density, rescaled to the whole inventory's p(A).
            ys = tail_n_share * (f.tail.alpha - 1) / f.tail.xmin_m2
            ys = ys * (xs / f.tail.xmin_m2) ** -f.tail.alpha
            ax.plot(
                xs, ys, "-", color=colour, label=f"α = {f.tail.alpha:.2f} ± {f.tail.alpha_se:.2f}"
            )
        if f.rollover_m2 is not None:
            ax.axvline(f.rollover_m2, color=colour, linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("landslide area A (m²)")
    ax.set_ylabel("probability density p(A) (m⁻²)")
    ax.set_title("Area-frequency distribution (dotted: rollover)")
    ax.legend(fontsize="small")
    for path in paths:
        fig.savefig(path, dpi=120)


def plot_pr_curve(curve: PrCurve, path: Path) -> None:
    """Precision against recall, with the best-F1 threshold marked."""
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    points = [
        (r, p) for r, p in zip(curve.recall, curve.precision, strict=True) if None not in (r, p)
    ]
    if points:
        recall, precision = zip(*points, strict=True)
        ax.step(recall, precision, where="post", color="#7570b3")
    if curve.best_threshold is not None:
        ax.plot(
            [curve.best_recall],
            [curve.best_precision],
            "o",
            color="#e7298a",
            label=f"best F1 {curve.best_f1:.3f} at p ≥ {curve.best_threshold:.3f}",
        )
        ax.legend(loc="lower left", fontsize="small")
    ap = "n/a" if curve.average_precision is None else f"{curve.average_precision:.3f}"
    ax.set_title(f"Precision-recall (AP = {ap})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    fig.savefig(path, dpi=120)
