"""Pixel and probability agreement scores, from counts that add up block by block.

Everything here works on integer counts so that a report over 10^9 or more
pixels can be accumulated one window at a time and never overflows: counts are
int64 while accumulated and Python integers (unbounded) when combined into
scores. A score whose denominator is zero is None (JSON null), never NaN:
with nothing to measure, 0.0 would read as a bad model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

PROBABILITY_BINS = 256


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class PixelScores:
    """Agreement of a predicted and a reference mask; None where undefined."""

    precision: float | None
    recall: float | None
    f1: float | None
    iou: float | None
    mcc: float | None
    kappa: float | None


@dataclass(frozen=True)
class ConfusionCounts:
    """Pixel counts of a predicted against a reference mask inside the valid pixels.

    Add two of them to combine blocks: `sum(blocks, ConfusionCounts())`.
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @classmethod
    def from_masks(
        cls, pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None
    ) -> ConfusionCounts:
        """Count one block, leaving out pixels where `valid` is False (outside, nodata)."""
        pred = np.asarray(pred, dtype=bool)
        ref = np.asarray(ref, dtype=bool)
        if pred.shape != ref.shape:
            raise ValueError(f"mask shapes differ: {pred.shape} and {ref.shape}")
        valid = np.ones(pred.shape, bool) if valid is None else np.asarray(valid, dtype=bool)
        pred_v = pred & valid
        ref_v = ref & valid
        tp = int(np.count_nonzero(pred_v & ref_v))
        n_pred = int(np.count_nonzero(pred_v))
        n_ref = int(np.count_nonzero(ref_v))
        n = int(np.count_nonzero(valid))
        return cls(tp=tp, fp=n_pred - tp, fn=n_ref - tp, tn=n - n_pred - n_ref + tp)

    def __add__(self, other: ConfusionCounts) -> ConfusionCounts:
        if not isinstance(other, ConfusionCounts):
            return NotImplemented
        return ConfusionCounts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def scores(self) -> PixelScores:
        """Precision, recall, F1, IoU, MCC and Cohen's kappa of these counts.

        F1 is 2TP / (2TP + FP + FN), which equals the harmonic mean of
        precision and recall wherever both exist and stays defined (0.0) when
        the prediction is empty but the reference is not.
        """
        tp, fp, fn, tn = (int(v) for v in (self.tp, self.fp, self.fn, self.tn))
        mcc_den = math.sqrt((tp + fp) * (tp + fn)) * math.sqrt((tn + fp) * (tn + fn))
        kappa_den = (tp + fp) * (fp + tn) + (tp + fn) * (fn + tn)
        return PixelScores(
            precision=_ratio(tp, tp + fp),
            recall=_ratio(tp, tp + fn),
            f1=_ratio(2 * tp, 2 * tp + fp + fn),
            iou=_ratio(tp, tp + fp + fn),
            mcc=(tp * tn - fp * fn) / mcc_den if mcc_den else None,
            kappa=_ratio(2 * (tp * tn - fn * fp), kappa_den),
        )

    def to_json(self) -> dict:
        return {"counts": asdict(self), **asdict(self.scores())}


@dataclass(frozen=True)
class PrCurve:
    """Precision-recall curve over the 256 bin-edge thresholds of a probability histogram.

    `thresholds[k]` is k/256: a pixel is predicted positive when p >= it.
    `precision[k]` is None where nothing is predicted positive.
    """

    thresholds: list[float]
    precision: list[float | None]
    recall: list[float | None]
    average_precision: float | None
    best_threshold: float | None
    best_f1: float | None
    best_precision: float | None
    best_recall: float | None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class ProbabilityHistogram:
    """Counts of positive and negative reference pixels per probability bin.

    The PR curve comes from these 2 x 256 counts rather than from every pixel,
    so a scene of any size costs the same; thresholds are the bin edges k/256,
    and 0.5 is one of them, so the curve passes exactly through the default
    threshold's pixel scores.
    """

    positives: np.ndarray = field(default_factory=lambda: np.zeros(PROBABILITY_BINS, np.int64))
    negatives: np.ndarray = field(default_factory=lambda: np.zeros(PROBABILITY_BINS, np.int64))

    @staticmethod
    def bin_of(prob: np.ndarray) -> np.ndarray:
        """Bin index of each probability: floor(p * 256), with p = 1.0 in the top bin."""
        scaled = np.floor(np.asarray(prob, dtype=np.float64) * PROBABILITY_BINS)
        return np.clip(scaled, 0, PROBABILITY_BINS - 1).astype(np.intp)

    def add(self, prob: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Add one block of probabilities in [0, 1] and its reference mask."""
        prob = np.asarray(prob)
        ref = np.asarray(ref, dtype=bool)
        keep = np.ones(prob.shape, bool) if valid is None else np.asarray(valid, dtype=bool)
        bins = self.bin_of(prob[keep])
        is_pos = ref[keep]
        self.positives += np.bincount(bins[is_pos], minlength=PROBABILITY_BINS)
        self.negatives += np.bincount(bins[~is_pos], minlength=PROBABILITY_BINS)

    def __add__(self, other: ProbabilityHistogram) -> ProbabilityHistogram:
        return ProbabilityHistogram(
            self.positives + other.positives, self.negatives + other.negatives
        )

    def pr_curve(self) -> PrCurve:
        """The curve, its average precision and the threshold of best F1 (`best_bin`).

        Average precision is sklearn's step-wise sum over distinct thresholds
        taken from high to low: AP = sum_k (R_k - R_(k+1)) * P_k. It equals
        sklearn's `average_precision_score` when the probabilities are
        multiples of 1/256, and is within a bin's worth otherwise.
        """
        tp = np.cumsum(self.positives[::-1])[::-1].astype(np.int64)
        fp = np.cumsum(self.negatives[::-1])[::-1].astype(np.int64)
        n_pos = int(self.positives.sum())
        predicted = tp + fp
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), np.nan)
            recall = tp / n_pos if n_pos else np.full(tp.shape, np.nan)
            f1 = 2 * tp / (predicted + n_pos) if n_pos else np.full(tp.shape, np.nan)
        thresholds = np.arange(PROBABILITY_BINS) / PROBABILITY_BINS

        ap = best_t = best_f1 = best_p = best_r = None
        if n_pos:
            recall_next = np.append(recall[1:], 0.0)
            steps = (recall - recall_next) * np.nan_to_num(precision)
            ap = float(steps.sum())
            k = best_bin(f1)
            best_t, best_f1 = float(thresholds[k]), float(f1[k])
            best_p, best_r = _none_if_nan(precision[k]), float(recall[k])
        return PrCurve(
            thresholds=thresholds.tolist(),
            precision=[_none_if_nan(v) for v in precision],
            recall=[_none_if_nan(v) for v in recall],
            average_precision=ap,
            best_threshold=best_t,
            best_f1=best_f1,
            best_precision=best_p,
            best_recall=best_r,
        )


def best_bin(f1: np.ndarray) -> int:
    """The threshold bin of best F1: the one threshold choice training and reports share.

    Bin 0 (threshold 0: every pixel positive) never wins; among equal F1 the
    bin nearest the middle (0.5) does, so clean classes get 0.5, not the
    lowest threshold that separates them.
    """
    scores = np.nan_to_num(np.asarray(f1, dtype=np.float64), nan=-1.0)
    half = len(scores) // 2
    return max(range(1, len(scores)), key=lambda b: (scores[b], -abs(b - half)))


def _scores(tp: float, fp: float, fn: float) -> tuple[float, float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1, iou


def sweep(pos_hist: np.ndarray, neg_hist: np.ndarray) -> dict[str, float]:
    """Scores at 0.5 and at the F1-best threshold (`best_bin`), from histograms of probabilities.

    Bin b counts pixels with floor(p * bins) == b, so "p >= b / bins" is "bin >= b".
    Training's validation calls it every epoch; undefined scores are 0.0 here.
    """
    tp = pos_hist[::-1].cumsum()[::-1].tolist()
    fp = neg_hist[::-1].cumsum()[::-1].tolist()
    total = int(pos_hist.sum())
    table = [_scores(tp[b], fp[b], total - tp[b]) for b in range(len(pos_hist))]
    half = len(pos_hist) // 2
    best = best_bin(np.array([row[2] for row in table]))
    out = dict(zip(("precision", "recall", "f1", "iou"), table[half], strict=True))
    keys = ("best_precision", "best_recall", "best_f1", "best_iou")
    out.update(zip(keys, table[best], strict=True))
    out["best_threshold"] = best / len(pos_hist)
    return out


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
