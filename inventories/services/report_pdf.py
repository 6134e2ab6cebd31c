"""The printable PDF of a report: its tables as text, then its plots, one per page.

Drawn with matplotlib's PdfPages on plain Figure objects (no pyplot state,
safe in a worker), so the PDF needs no extra package and shows exactly the
strings of the report page (inventories.selectors.report_tables). Every
line is drawn with mathtext off, so a "$" in a name prints as typed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from django.utils import timezone
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.image import imread

from inventories.models import AccuracyReport
from inventories.selectors.report_tables import Table, report_tables
from mlcore.evaluation import ReportFiles

A4 = (8.27, 11.69)
LINES_PER_PAGE = 78
WRAP = 100
TITLE = "Accuracy report: "


def write_report_pdf(report: AccuracyReport, files: ReportFiles, path: Path) -> Path:
    """Write `path`; the report row need not be saved yet (the PDF is part of its files)."""
    lines = _heading(report)
    for table in report_tables(report.figures):
        lines += _table_lines(table) + [""]
    warnings = report.figures.get("warnings") or []
    if warnings:
        lines += ["Notes"] + [w for text in warnings for w in _wrap("- " + text)]
    plots = [files.areafreq_png] + ([files.pr_curve_png] if files.pr_curve_png else [])
    with PdfPages(path, metadata={"Title": report.name, "Creator": "Scarp"}) as pdf:
        for start in range(0, len(lines), LINES_PER_PAGE):
            pdf.savefig(_text_page(lines[start : start + LINES_PER_PAGE]))
        for plot in plots:
            pdf.savefig(_image_page(plot))
    return path


def _heading(report: AccuracyReport) -> list[str]:
    scarp = report.figures.get("scarp", {})
    predicted, reference = scarp.get("predicted", {}), scarp.get("reference", {})
    version = (predicted.get("model_version") or {}).get("name")
    made = report.created_at or timezone.now()
    lines = [
        f"{TITLE}{report.name}",
        "",
        f"Prediction: {predicted.get('name')}" + (f" (model {version})" if version else ""),
        f"Reference:  {reference.get('name')}",
        f"Evaluation area: {scarp.get('area_source')}",
        f"Object match at IoU >= {report.iou_threshold:g}",
        f"Made {made:%Y-%m-%d %H:%M} UTC"
        + (f" by {report.created_by}" if report.created_by else ""),
        "",
    ]
    return lines


def _table_lines(table: Table) -> list[str]:
    rows = [table.columns, *table.rows]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(table.columns))]

    def line(row: list[str]) -> str:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    out = [table.title, "-" * len(table.title), line(table.columns)]
    out += [line(r) for r in table.rows]
    if table.note:
        out += _wrap(table.note)
    return out


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WRAP, subsequent_indent="  ") or [""]


def _text_page(lines: list[str]) -> Figure:
    fig = Figure(figsize=A4)
    step = 0.9 / LINES_PER_PAGE
    for i, text in enumerate(lines):
        bold = text.startswith(TITLE)
        fig.text(
            0.06,
            0.95 - i * step,
            text,
            family="monospace",
            size=7.5,
            va="top",
            weight="bold" if bold else "normal",
            parse_math=False,  # names are the users': a "$" is text, never mathtext
        )
    return fig


def _image_page(path: Path) -> Figure:
    fig = Figure(figsize=A4)
    ax = fig.add_axes((0.06, 0.3, 0.88, 0.6))
    ax.imshow(imread(path))
    ax.set_axis_off()
    return fig
