"""One-to-one matching of predicted to reference landslides, and object scores.

Candidate pairs come from an STRtree query (predicate "intersects") and all
overlaps are computed as shapely array operations, spread over a few threads,
so 10^5 against 10^5 polygons take seconds. Matching is greedy by IoU, highest first: a pair is
accepted when neither of its polygons is matched yet, so each polygon matches
at most once. Ties are broken by predicted then reference position, which
makes the result deterministic. Greedy is what detection benchmarks (COCO,
landslide inventory comparisons) do; with a threshold above 0.5 and no
overlaps inside either inventory it is also the only possible assignment,
since a polygon then has at most one partner above the threshold.

Geometries must be in an equal-area CRS in metres (see mlcore.evaluation.inputs).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely

MatchMode = Literal["iou", "any_overlap"]
SIZE_CLASS_EDGES_M2: tuple[float, ...] = (100.0, 1e3, 1e4, 1e5)


@dataclass(frozen=True)
class OverlapPairs:
    """Every predicted/reference pair whose interiors overlap, with their IoU."""

    pred: np.ndarray
    ref: np.ndarray
    intersection_m2: np.ndarray
    iou: np.ndarray


@dataclass(frozen=True)
class SizeClass:
    """Recall of the reference and precision of the prediction for one size class."""

    lower_m2: float
    upper_m2: float | None
    n_ref: int
    n_ref_matched: int
    recall: float | None
    n_pred: int
    n_pred_matched: int
    precision: float | None


@dataclass(frozen=True)
class ObjectMatch:
    """The matched pairs (by position in the input arrays) and the unmatched leftovers."""

    mode: MatchMode
    iou_threshold: float | None
    n_pred: int
    n_ref: int
    tp_pred: np.ndarray
    tp_ref: np.ndarray
    tp_iou: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    by_size: list[SizeClass]

    @property
    def tp(self) -> int:
        return len(self.tp_pred)

    @property
    def precision(self) -> float | None:
        return self.tp / self.n_pred if self.n_pred else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.n_ref if self.n_ref else None

    @property
    def f1(self) -> float | None:
        total = self.n_pred + self.n_ref
        return 2 * self.tp / total if total else None

    @property
    def mean_iou(self) -> float | None:
        return float(self.tp_iou.mean()) if self.tp else None

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "iou_threshold": self.iou_threshold,
            "n_pred": self.n_pred,
            "n_ref": self.n_ref,
            "tp": self.tp,
            "fp": len(self.fp),
            "fn": len(self.fn),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "mean_iou_of_matches": self.mean_iou,
            "by_size": [vars(c) for c in self.by_size],
        }


def overlap_pairs(pred: np.ndarray, ref: np.ndarray) -> OverlapPairs:
    """All pairs with a positive intersection area; touching at an edge is not overlap."""
    pred = np.asarray(pred, dtype=object)
    ref = np.asarray(ref, dtype=object)
    tree = shapely.STRtree(ref)
    p, r = tree.query(pred, predicate="intersects")
    inter = intersection_areas(pred[p], ref[r])
    union = shapely.area(pred)[p] + shapely.area(ref)[r] - inter
    keep = inter > 0
    p, r, inter, union = p[keep], r[keep], inter[keep], union[keep]
    return OverlapPairs(pred=p, ref=r, intersection_m2=inter, iou=inter / union)


def intersection_areas(a: np.ndarray, b: np.ndarray, *, chunk: int = 1_000) -> np.ndarray:
    """Areas of a[i] & b[i], in threads: shapely's array functions release the GIL.

    Chunks are small because a few huge many-vertex landslides can take most
    of the time, and small chunks keep the threads evenly loaded.
    """
    if len(a) <= chunk:
        return shapely.area(shapely.intersection(a, b))
    starts = range(0, len(a), chunk)
    workers = min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(
            lambda i: shapely.area(shapely.intersection(a[i : i + chunk], b[i : i + chunk])),
            starts,
        )
        return np.concatenate(list(parts))


def greedy_one_to_one(pred: np.ndarray, ref: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Positions of the pairs that greedy matching by descending score accepts.

    Instead of walking the sorted pairs one by one, each round accepts every
    pair that is the best remaining pair of both its polygons ("mutually
    best") and drops the pairs those polygons were in. Such a pair is exactly
    one that the sequential greedy walk would also accept, so the result is
    the same, in a handful of vectorised rounds.
    """
    order = np.lexsort((ref, pred, -score))
    p, r = pred[order], ref[order]
    alive = np.ones(len(order), bool)
    accepted = np.zeros(len(order), bool)
    p_taken = np.zeros(int(p.max(initial=-1)) + 1, bool)
    r_taken = np.zeros(int(r.max(initial=-1)) + 1, bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        best_of_p = np.zeros(len(idx), bool)
        best_of_r = np.zeros(len(idx), bool)
        best_of_p[np.unique(p[idx], return_index=True)[1]] = True
        best_of_r[np.unique(r[idx], return_index=True)[1]] = True
        winners = idx[best_of_p & best_of_r]
        accepted[winners] = True
        p_taken[p[winners]] = True
        r_taken[r[winners]] = True
        alive &= ~(p_taken[p] | r_taken[r])
    return order[accepted]


def match_objects(
    pred: np.ndarray,
    ref: np.ndarray,
    *,
    iou_threshold: float = 0.5,
    mode: MatchMode = "iou",
    pairs: OverlapPairs | None = None,
    size_edges_m2: tuple[float, ...] = SIZE_CLASS_EDGES_M2,
) -> ObjectMatch:
    """Match predicted to reference polygons one to one.

    mode "iou" accepts pairs with IoU >= iou_threshold; "any_overlap" accepts
    any pair with a positive overlap, still one to one and best IoU first.
    Pass `pairs` from `overlap_pairs` to reuse them across both modes.
    """
    if mode not in ("iou", "any_overlap"):
        raise ValueError(f"unknown match mode {mode!r}; use 'iou' or 'any_overlap'")
    if mode == "iou" and not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"IoU threshold must be in (0, 1], got {iou_threshold}")
    pred = np.asarray(pred, dtype=object)
    ref = np.asarray(ref, dtype=object)
    if pairs is None:
        pairs = overlap_pairs(pred, ref)
    ok = pairs.iou >= iou_threshold if mode == "iou" else np.ones(len(pairs.iou), bool)
    cand_p, cand_r, cand_iou = pairs.pred[ok], pairs.ref[ok], pairs.iou[ok]
    chosen = greedy_one_to_one(cand_p, cand_r, cand_iou)
    tp_pred, tp_ref, tp_iou = cand_p[chosen], cand_r[chosen], cand_iou[chosen]
    pred_matched = np.zeros(len(pred), bool)
    pred_matched[tp_pred] = True
    ref_matched = np.zeros(len(ref), bool)
    ref_matched[tp_ref] = True
    return ObjectMatch(
        mode=mode,
        iou_threshold=float(iou_threshold) if mode == "iou" else None,
        n_pred=len(pred),
        n_ref=len(ref),
        tp_pred=tp_pred,
        tp_ref=tp_ref,
        tp_iou=tp_iou,
        fp=np.flatnonzero(~pred_matched),
        fn=np.flatnonzero(~ref_matched),
        by_size=size_classes(
            shapely.area(pred), pred_matched, shapely.area(ref), ref_matched, size_edges_m2
        ),
    )


def size_classes(
    pred_area: np.ndarray,
    pred_matched: np.ndarray,
    ref_area: np.ndarray,
    ref_matched: np.ndarray,
    edges_m2: tuple[float, ...] = SIZE_CLASS_EDGES_M2,
) -> list[SizeClass]:
    """Recall per reference size class and precision per predicted size class.

    Each polygon falls in the class of its own area, so a matched pair of a
    99 m2 prediction and a 101 m2 landslide counts in two adjacent classes.
    """
    lowers = (0.0, *edges_m2)
    uppers = (*edges_m2, None)
    ref_cls = np.searchsorted(edges_m2, ref_area, side="right")
    pred_cls = np.searchsorted(edges_m2, pred_area, side="right")
    out = []
    for k, (lo, hi) in enumerate(zip(lowers, uppers, strict=True)):
        n_ref = int(np.count_nonzero(ref_cls == k))
        n_ref_m = int(np.count_nonzero(ref_matched[ref_cls == k]))
        n_pred = int(np.count_nonzero(pred_cls == k))
        n_pred_m = int(np.count_nonzero(pred_matched[pred_cls == k]))
        out.append(
            SizeClass(
                lower_m2=float(lo),
                upper_m2=None if hi is None else float(hi),
                n_ref=n_ref,
                n_ref_matched=n_ref_m,
                recall=n_ref_m / n_ref if n_ref else None,
                n_pred=n_pred,
                n_pred_matched=n_pred_m,
                precision=n_pred_m / n_pred if n_pred else None,
            )
        )
    return out
