"""Accuracy: pixels, objects, metrics, area-frequency, reports.

`report.build_report` compares a prediction with a reference over an
evaluation area (`inputs`), from pixel agreement (`pixels`, `metrics`, one
threshold sweep), object matching (`objects`) and area-frequency
(`area_frequency`); `report_files` writes it out.
"""

from mlcore._face import lazy_face, names

_EXPORTS = names(
    report="Report build_report",
    report_files="ReportFiles spreadsheet_safe write_report",
    metrics="ConfusionCounts PROBABILITY_BINS PrCurve ProbabilityHistogram best_bin sweep",
    pixels="DEFAULT_MAX_CELLS",
    area_frequency="AreaFrequency log_bin_edges",
)
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
