"""A report's figures as titled tables of display strings, for the page, the PDF and comparisons.

Kept apart from the templates so the page and the PDF show the same numbers
with the same rounding, and so "which report is best" is decided here, not
in a template. An undefined score (None in the figures) shows as a dash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from inventories.models import AccuracyReport, Inventory
from inventories.selectors.report_models import ModelOrigin, report_model_origins
from mlcore.evaluation import spreadsheet_safe

DASH = "—"


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass(frozen=True)
class ComparisonRow:
    """Display strings for the page; `raw` (the values themselves) for the CSV and JSON."""

    section: str
    label: str
    values: list[str]
    best: frozenset[int] = frozenset()
    raw: list = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)

    @property
    def cells(self) -> list[tuple[str, str | None, bool]]:
        """(value, link, best) per report, for a template that cannot zip."""
        links = self.links or [None] * len(self.values)
        return [
            (v, link, i in self.best)
            for i, (v, link) in enumerate(zip(self.values, links, strict=True))
        ]


@dataclass(frozen=True)
class Comparison:
    reports: list[AccuracyReport]
    rows: list[ComparisonRow]
    notes: list[str] = field(default_factory=list)
    origins: list[ModelOrigin] = field(default_factory=list)

    @property
    def reference(self) -> Inventory | None:
        """The reference inventory all the reports share; None when they differ."""
        first = self.reports[0].reference
        return first if all(r.reference_id == first.pk for r in self.reports) else None

    @property
    def architectures(self) -> list[tuple[str, str]]:
        """(name, summary) of each architecture compared, once, for a legend."""
        seen = {o.version.architecture: o.summary for o in self.origins if o.version}
        return [(name, summary) for name, summary in seen.items() if summary]


def score(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def area(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value / 1e6:,.3f} km²" if abs(value) >= 1e6 else f"{value:,.0f} m²"


def share(value: float | None) -> str:
    return DASH if value is None else f"{value:.2%}"


def ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def report_tables(figures: dict) -> list[Table]:
    """Every figure of a report, grouped as a reader of a landslide paper expects."""
    tables = [_pixel_table(figures), _object_table(figures), _size_table(figures)]
    tables += [_area_table(figures), _areafreq_table(figures)]
    if figures.get("probability"):
        tables.append(_probability_table(figures["probability"]))
    return tables


def _pixel_table(f: dict) -> Table:
    p, counts, grid = f["pixel"], f["pixel"]["counts"], f["grid"]
    rows = [[name.upper() + " pixels", count(counts[name])] for name in ("tp", "fp", "fn", "tn")]
    rows += [[label, score(p[key])] for key, label in _PIXEL_SCORES]
    note = f"{grid['resolution']:g} m cells ({grid['source']}) in {grid['crs']}"
    return Table("Pixel agreement", ["", "value"], rows, note)


_PIXEL_SCORES = [
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("iou", "IoU"),
    ("mcc", "MCC"),
    ("kappa", "Cohen's kappa"),
]


def _object_table(f: dict) -> Table:
    strict, loose = f["objects"], f["objects_any_overlap"]
    rows = [
        ["Predicted landslides", count(strict["n_pred"]), count(loose["n_pred"])],
        ["Reference landslides", count(strict["n_ref"]), count(loose["n_ref"])],
        ["TP (matched)", count(strict["tp"]), count(loose["tp"])],
        ["FP (unmatched predictions)", count(strict["fp"]), count(loose["fp"])],
        ["FN (missed reference)", count(strict["fn"]), count(loose["fn"])],
        ["Precision", score(strict["precision"]), score(loose["precision"])],
        ["Recall", score(strict["recall"]), score(loose["recall"])],
        ["F1", score(strict["f1"]), score(loose["f1"])],
        [
            "Mean IoU of matches",
            score(strict["mean_iou_of_matches"]),
            score(loose["mean_iou_of_matches"]),
        ],
    ]
    columns = ["", f"IoU ≥ {strict['iou_threshold']:g}", "any overlap"]
    return Table("Objects (one-to-one matching)", columns, rows)


def _size_table(f: dict) -> Table:
    rows = []
    for c in f["objects"]["by_size"]:
        upper = "∞" if c["upper_m2"] is None else f"{c['upper_m2']:,.0f}"
        rows.append(
            [
                f"{c['lower_m2']:,.0f}–{upper}",
                count(c["n_ref"]),
                count(c["n_ref_matched"]),
                score(c["recall"]),
                count(c["n_pred"]),
                count(c["n_pred_matched"]),
                score(c["precision"]),
            ]
        )
    columns = ["Size (m²)", "reference", "matched", "recall", "predicted", "matched", "precision"]
    return Table("Objects by size class", columns, rows, "Matching at the IoU threshold.")


def _area_table(f: dict) -> Table:
    a = f["area"]
    rows = [
        ["Predicted landslide area", area(a["pred_m2"]), share(a["pred_share_of_area"])],
        ["Reference landslide area", area(a["ref_m2"]), share(a["ref_share_of_area"])],
        ["Difference (predicted − reference)", area(a["difference_m2"]), ""],
        ["Ratio (predicted / reference)", ratio(a["ratio"]), ""],
        ["Evaluation area", area(f["inputs"]["evaluation_area_m2"]), ""],
    ]
    return Table("Landslide area", ["", "value", "share of evaluation area"], rows)


def _areafreq_table(f: dict) -> Table:
    sides = [f["area_frequency"].get("pred") or {}, f["area_frequency"].get("ref") or {}]

    def tail(side: dict, key: str) -> float | None:
        return (side.get("tail") or {}).get(key)

    rows = [
        ["Landslides", *(count(s.get("n")) for s in sides)],
        [
            "Power-law exponent α",
            *(
                DASH
                if tail(s, "alpha") is None
                else f"{tail(s, 'alpha'):.2f} ± {tail(s, 'alpha_se'):.2f}"
                for s in sides
            ),
        ],
        ["Tail from (x_min)", *(area(tail(s, "xmin_m2")) for s in sides)],
        ["Landslides in the tail", *(count(tail(s, "n_tail")) for s in sides)],
        ["Rollover", *(area(s.get("rollover_m2")) for s in sides)],
        ["Modal bin", *(area(s.get("modal_bin_m2")) for s in sides)],
    ]
    return Table("Area-frequency distribution", ["", "predicted", "reference"], rows)


def _probability_table(p: dict) -> Table:
    rows = [
        ["Average precision", score(p["average_precision"])],
        ["Threshold with the best F1", score(p["best_threshold"])],
        ["Best F1", score(p["best_f1"])],
        ["Precision at that threshold", score(p["best_precision"])],
        ["Recall at that threshold", score(p["best_recall"])],
    ]
    return Table("Probability map", ["", "value"], rows, "Pixels of the map, on its own grid.")


def _get(*keys: str) -> Callable[[dict], float | None]:
    def read(figures: dict):
        value = figures
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return read


_HIGHER = "higher"
_NEAR_ONE = "near one"
# (section, label, read, format, which is best)
_COMPARED: list[tuple[str, str, Callable[[dict], float | None], Callable, str | None]] = [
    ("Pixels", "Precision", _get("pixel", "precision"), score, _HIGHER),
    ("Pixels", "Recall", _get("pixel", "recall"), score, _HIGHER),
    ("Pixels", "F1", _get("pixel", "f1"), score, _HIGHER),
    ("Pixels", "IoU", _get("pixel", "iou"), score, _HIGHER),
    ("Pixels", "MCC", _get("pixel", "mcc"), score, _HIGHER),
    ("Pixels", "Cohen's kappa", _get("pixel", "kappa"), score, _HIGHER),
    ("Objects", "Predicted landslides", _get("objects", "n_pred"), count, None),
    ("Objects", "TP", _get("objects", "tp"), count, None),
    ("Objects", "FP", _get("objects", "fp"), count, None),
    ("Objects", "FN", _get("objects", "fn"), count, None),
    ("Objects", "Precision", _get("objects", "precision"), score, _HIGHER),
    ("Objects", "Recall", _get("objects", "recall"), score, _HIGHER),
    ("Objects", "F1", _get("objects", "f1"), score, _HIGHER),
    ("Objects", "F1 (any overlap)", _get("objects_any_overlap", "f1"), score, _HIGHER),
    ("Area", "Predicted area", _get("area", "pred_m2"), area, None),
    ("Area", "Ratio predicted / reference", _get("area", "ratio"), ratio, _NEAR_ONE),
    ("Area-frequency", "α predicted", _get("area_frequency", "pred", "tail", "alpha"), ratio, None),
    ("Area-frequency", "α reference", _get("area_frequency", "ref", "tail", "alpha"), ratio, None),
    (
        "Area-frequency",
        "Rollover predicted",
        _get("area_frequency", "pred", "rollover_m2"),
        area,
        None,
    ),
    ("Probability", "Average precision", _get("probability", "average_precision"), score, _HIGHER),
    ("Probability", "Best threshold", _get("probability", "best_threshold"), score, None),
    ("Probability", "Best F1", _get("probability", "best_f1"), score, _HIGHER),
]


def report_comparison(reports: Sequence[AccuracyReport]) -> Comparison:
    """The model behind each report, then its headline figures, the best of each row marked."""
    origins = report_model_origins(reports)
    rows = _model_rows(origins)
    for section, label, read, fmt, better in _COMPARED:
        raw = [read(r.figures) for r in reports]
        if section == "Probability" and all(v is None for v in raw):
            continue
        values = [fmt(v) for v in raw]
        rows.append(ComparisonRow(section, label, values, _best(raw, better), raw=raw))
    return Comparison(list(reports), rows, _comparison_notes(reports), origins)


def _model_rows(origins: list[ModelOrigin]) -> list[ComparisonRow]:
    """No best is marked: validation F1s come from each model's own validation data."""
    names = [o.version.name if o.version else None for o in origins]
    arches = [o.architecture or None for o in origins]
    seconds = [o.training_seconds for o in origins]
    f1s = [o.validation_f1 for o in origins]
    return [
        ComparisonRow(
            "Model",
            "Version",
            [n or DASH for n in names],
            raw=names,
            links=[o.url for o in origins],
        ),
        ComparisonRow(
            "Model", "Family", [o.family for o in origins], raw=[o.family for o in origins]
        ),
        ComparisonRow("Model", "Architecture / encoder", [a or DASH for a in arches], raw=arches),
        ComparisonRow("Model", "Training time", [duration(s) for s in seconds], raw=seconds),
        ComparisonRow("Model", "Validation F1 (training)", [score(f) for f in f1s], raw=f1s),
    ]


def comparison_export(comparison: Comparison) -> dict:
    """The comparison with its raw values, for the JSON download."""
    reports = [
        {
            "id": r.pk,
            "name": r.name,
            "predicted": {"id": r.predicted_id, "name": r.predicted.name},
            "reference": {"id": r.reference_id, "name": r.reference.name},
            "iou_threshold": r.iou_threshold,
            "evaluation_area_m2": _get("inputs", "evaluation_area_m2")(r.figures),
            "created_at": r.created_at.isoformat(),
            "model": origin.as_dict(),
        }
        for r, origin in zip(comparison.reports, comparison.origins, strict=True)
    ]
    rows = [{"section": w.section, "label": w.label, "values": w.raw} for w in comparison.rows]
    return {"reports": reports, "rows": rows, "notes": comparison.notes}


def comparison_csv_rows(comparison: Comparison) -> list[list]:
    """A header (one column per report) and one line per row, raw values, blank for none.

    Names are the users': every text cell is made safe from spreadsheet formulas.
    """
    header = ["section", "metric", *(f"{r.name} (#{r.pk})" for r in comparison.reports)]
    lines = [
        [w.section, w.label, *("" if v is None else v for v in w.raw)] for w in comparison.rows
    ]
    return [spreadsheet_safe(row) for row in [header, *lines]]


def _best(values: list[float | None], better: str | None) -> frozenset[int]:
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if better is None or len(known) < 2:
        return frozenset()

    # Ties are judged at the shown precision: two values that both read 1.000 are both best.
    def key(v: float) -> float:
        return round(v if better == _HIGHER else -abs(v - 1.0), 3)

    top = max(key(v) for _, v in known)
    return frozenset(i for i, v in known if key(v) == top)


def _comparison_notes(reports: Sequence[AccuracyReport]) -> list[str]:
    notes = []
    references = dict.fromkeys(r.reference.name for r in reports)
    if len(references) > 1:
        notes.append(
            f"These reports use different reference inventories ({', '.join(references)}); "
            "side by side, their figures are not comparable."
        )
    areas = [r.evaluation_area for r in reports]
    if any(a is None for a in areas) or any(
        not areas[0].equals_exact(a, tolerance=1e-9) for a in areas[1:]
    ):
        notes.append(
            "These reports were made over different evaluation areas; "
            "their figures are not strictly comparable."
        )
    if len({r.iou_threshold for r in reports}) > 1:
        notes.append("These reports match objects at different IoU thresholds.")
    return notes
