"""The printable PDF of a report: the report page's blocks, rendered by WeasyPrint in the job.

templates/inventories/report_print.html includes the page's own partials
(what was compared, the notes, the figure tables, the plots), so the PDF
has the page's tables as real tables with the same strings
(inventories.selectors.report_tables), plus the still TP/FP/FN map that
mlcore drew. Names are escaped by the template like everywhere else, and
WeasyPrint is given a fetcher that serves only the report's own image files
and data: URIs: a report never fetches a URL, whatever ends up in its HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML, default_url_fetcher

from inventories.models import AccuracyReport
from inventories.selectors.report_models import model_origin
from inventories.selectors.report_tables import report_tables
from inventories.selectors.reports import MAP_CAPTION, PLOTS, REPORT_FILES
from mlcore.evaluation import ReportFiles

TEMPLATE = "inventories/report_print.html"
# What a PDF may embed from the report's folder: its pictures, nothing else it holds.
IMAGE_FILES = frozenset(n for n in REPORT_FILES if n.endswith((".png", ".svg")))


def write_report_pdf(report: AccuracyReport, files: ReportFiles, path: Path) -> Path:
    """Write `path` beside `files`; the row need not be saved yet (the PDF is one of its files)."""
    folder = files.json.parent
    html = render_to_string(TEMPLATE, _context(report, files))
    document = HTML(
        string=html, base_url=folder.as_uri() + "/", url_fetcher=report_url_fetcher(folder)
    )
    document.write_pdf(path)
    return Path(path)


def _context(report: AccuracyReport, files: ReportFiles) -> dict:
    images = [files.outcome_map_png, files.areafreq_png, files.pr_curve_png]
    present = {p.name for p in images if p is not None}
    scarp = report.figures.get("scarp", {})
    return {
        "printed": True,
        "project": report.project,
        "report": report,
        "made": report.created_at or timezone.now(),
        "origin": model_origin(report.predicted),
        "scarp": scarp,
        "tables": report_tables(report.figures),
        "warnings": report.figures.get("warnings", []),
        "map": {"url": "map.png", "caption": MAP_CAPTION} if "map.png" in present else None,
        "plots": [{"url": n, "caption": c} for n, c in PLOTS if n in present],
    }


def report_url_fetcher(folder: Path) -> Callable[..., dict]:
    """A WeasyPrint url_fetcher that serves the report's images in `folder` and data: URIs only.

    Anything else (http, another file, a path that climbs out) raises, which
    WeasyPrint reports and skips: the PDF loses that picture, nobody is asked.
    """
    root = folder.resolve()

    def fetch(url: str, *args, **kwargs) -> dict:
        if url.startswith("data:"):
            return default_url_fetcher(url, *args, **kwargs)
        parts = urlsplit(url)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            target = Path(unquote(parts.path)).resolve()
            if target.parent == root and target.name in IMAGE_FILES and target.is_file():
                return {
                    "string": target.read_bytes(),
                    "mime_type": REPORT_FILES[target.name].content_type,
                    "redirected_url": target.as_uri(),
                }
        raise ValueError(f"A report's PDF embeds only the report's own files; refused {url!r}.")

    return fetch
