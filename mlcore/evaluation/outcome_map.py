"""A still map of a report's TP, FP and FN polygons over the evaluated area, for print.

The report page draws the layers live (Leaflet); a printed report needs them
as one picture. The polygons are rasterised into an image at most
`max_pixels` on its longer side rather than drawn as vector paths, so the
picture (and the PDF that embeds it) stays the same size however many
landslides there are (100,000 rasterise in about 4 s on the 2-core machine),
and `all_touched` keeps a landslide smaller than an image pixel visible as
one pixel. Drawn on a plain `Figure` (no pyplot state), like the other plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from rasterio.features import rasterize
from rasterio.transform import from_bounds

from mlcore.evaluation.report import Report

# The report page's colours (static/css/reports.css), so both maps read alike.
COLOURS = {"tp": "#1b9e77", "fp": "#d95f02", "fn": "#7570b3"}
LABELS = {
    "tp": "TP: matched predictions",
    "fp": "FP: unmatched predictions",
    "fn": "FN: missed reference landslides",
}
AREA_COLOUR = "#1f2a30"
ALPHA = 0.75
MAX_PIXELS = 1600


def plot_outcome_map(report: Report, path: Path, *, max_pixels: int = MAX_PIXELS) -> Path:
    """Write `path` (a PNG): FN, then FP, then TP, the evaluated area's outline dashed."""
    layers = _layers(report)
    area = report.evaluated_area
    bounds = _bounds(area, layers)
    xmin, ymin, xmax, ymax = bounds
    scale = max(xmax - xmin, ymax - ymin) / max_pixels
    width = max(1, int(np.ceil((xmax - xmin) / scale)))
    height = max(1, int(np.ceil((ymax - ymin) / scale)))
    transform = from_bounds(xmin, ymin, xmax, ymax, width, height)
    image = np.ones((height, width, 3), dtype=np.float32)
    for name in ("fn", "fp", "tp"):
        geoms = [g for g in layers[name] if g is not None and not g.is_empty]
        if not geoms:
            continue
        mask = rasterize(
            geoms, out_shape=(height, width), transform=transform, all_touched=True, dtype="uint8"
        ).astype(bool)
        # Translucent, so where a false positive overlaps a missed landslide both show.
        image[mask] = (1 - ALPHA) * image[mask] + ALPHA * np.asarray(to_rgb(COLOURS[name]))

    fig = Figure(figsize=(7.0, 7.0 * height / width + 0.9), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image, extent=(xmin, xmax, ymin, ymax), interpolation="nearest")
    if area is not None and not area.is_empty:
        for ring in _rings(area):
            xs, ys = ring.xy
            ax.plot(xs, ys, "--", color=AREA_COLOUR, linewidth=1.2)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(labelsize="x-small")
    epsg = report.working_crs.to_epsg()
    crs = f"EPSG:{epsg}" if epsg else report.working_crs.name
    ax.set_xlabel(f"easting (m, {crs})", fontsize="small")
    ax.set_ylabel("northing (m)", fontsize="small")
    counts = {name: len(layers[name]) for name in LABELS}
    handles = [
        Patch(color=COLOURS[name], alpha=ALPHA, label=f"{LABELS[name]} ({counts[name]:,})")
        for name in LABELS
    ]
    handles.append(Patch(fill=False, edgecolor=AREA_COLOUR, linestyle="--", label="evaluated area"))
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize="small")
    fig.savefig(path, dpi=120)
    return Path(path)


def _layers(report: Report) -> dict[str, np.ndarray]:
    """The compared (clipped) geometries of each outcome, in the working CRS."""
    m = report.objects
    return {
        "tp": report.pred.geoms[m.tp_pred],
        "fp": report.pred.geoms[m.fp],
        "fn": report.ref.geoms[m.fn],
    }


def _bounds(
    area: shapely.Geometry | None, layers: dict[str, np.ndarray]
) -> tuple[float, float, float, float]:
    """The evaluated area's box (or the polygons'), with a margin for its outline; never empty."""
    if area is not None and not area.is_empty:
        xmin, ymin, xmax, ymax = area.bounds
    else:
        geoms = [g for geoms in layers.values() for g in geoms if g is not None]
        if geoms:
            xmin, ymin, xmax, ymax = shapely.total_bounds(np.asarray(geoms))
        else:
            xmin, ymin, xmax, ymax = 0.0, 0.0, 1.0, 1.0
    margin = max(xmax - xmin, ymax - ymin, 1.0) * 0.02
    return float(xmin - margin), float(ymin - margin), float(xmax + margin), float(ymax + margin)


def _rings(area: shapely.Geometry) -> list[shapely.LineString]:
    boundary = area.boundary
    return list(getattr(boundary, "geoms", [boundary]))
