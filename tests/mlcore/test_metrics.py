"""Pixel scores from confusion counts, and the PR curve from a probability histogram."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from mlcore.evaluation.metrics import ConfusionCounts, ProbabilityHistogram


def two_squares() -> tuple[np.ndarray, np.ndarray]:
    """A 10 x 10 reference square and the same square shifted two columns right."""
    ref = np.zeros((20, 20), bool)
    ref[0:10, 0:10] = True
    pred = np.zeros((20, 20), bool)
    pred[0:10, 2:12] = True
    return pred, ref


def test_two_squares_give_hand_computed_counts_and_scores():
    pred, ref = two_squares()

    counts = ConfusionCounts.from_masks(pred, ref)
    scores = counts.scores()

    assert counts == ConfusionCounts(tp=80, fp=20, fn=20, tn=280)
    assert scores.precision == 0.8
    assert scores.recall == 0.8
    assert scores.f1 == pytest.approx(0.8)
    assert scores.iou == pytest.approx(80 / 120)
    # (80*280 - 20*20) / sqrt(100 * 100 * 300 * 300)
    assert scores.mcc == pytest.approx(22_000 / 30_000)
    # 2 (80*280 - 20*20) / (100*300 + 100*300)
    assert scores.kappa == pytest.approx(44_000 / 60_000)


def test_pixels_outside_the_valid_mask_are_not_counted():
    pred, ref = two_squares()
    valid = np.zeros_like(pred)
    valid[:, :11] = True

    counts = ConfusionCounts.from_masks(pred, ref, valid)

    assert counts == ConfusionCounts(tp=80, fp=10, fn=20, tn=110)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_scikit_learn_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    ref = rng.random((120, 90)) < 0.2
    pred = np.where(rng.random(ref.shape) < 0.7, ref, rng.random(ref.shape) < 0.3)
    valid = rng.random(ref.shape) < 0.9
    y_true, y_pred = ref[valid], pred[valid]

    scores = ConfusionCounts.from_masks(pred, ref, valid).scores()

    assert scores.precision == pytest.approx(skm.precision_score(y_true, y_pred), abs=1e-12)
    assert scores.recall == pytest.approx(skm.recall_score(y_true, y_pred), abs=1e-12)
    assert scores.f1 == pytest.approx(skm.f1_score(y_true, y_pred), abs=1e-12)
    assert scores.iou == pytest.approx(skm.jaccard_score(y_true, y_pred), abs=1e-12)
    assert scores.mcc == pytest.approx(skm.matthews_corrcoef(y_true, y_pred), abs=1e-12)
    assert scores.kappa == pytest.approx(skm.cohen_kappa_score(y_true, y_pred), abs=1e-12)


def test_counts_added_block_by_block_equal_the_whole():
    rng = np.random.default_rng(7)
    pred = rng.random((300, 500)) < 0.3
    ref = rng.random((300, 500)) < 0.25
    valid = rng.random((300, 500)) < 0.8

    blocks = [
        ConfusionCounts.from_masks(
            pred[r : r + 64, c : c + 64], ref[r : r + 64, c : c + 64], valid[r : r + 64, c : c + 64]
        )
        for r in range(0, 300, 64)
        for c in range(0, 500, 64)
    ]

    assert sum(blocks, ConfusionCounts()) == ConfusionCounts.from_masks(pred, ref, valid)


def test_undefined_scores_are_none_and_json_safe():
    empty = np.zeros((5, 5), bool)
    some = empty.copy()
    some[0, 0] = True

    nothing = ConfusionCounts.from_masks(empty, empty).scores()
    missed = ConfusionCounts.from_masks(empty, some).scores()

    assert nothing.precision is nothing.recall is nothing.f1 is nothing.iou is None
    assert nothing.mcc is None and nothing.kappa is None
    assert missed.precision is None and missed.recall == 0.0 and missed.f1 == 0.0
    json.dumps(ConfusionCounts.from_masks(empty, empty).to_json(), allow_nan=False)


def test_billions_of_pixels_do_not_overflow():
    counts = ConfusionCounts(tp=4 * 10**9, fp=10**9, fn=2 * 10**9, tn=9 * 10**9)

    scores = counts.scores()

    tp, fp, fn, tn = 4e9, 1e9, 2e9, 9e9
    expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert scores.mcc == pytest.approx(expected, rel=1e-12)
    assert 0 < scores.kappa < 1


def random_probabilities(seed: int, quantised: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.random((200, 150)) < 0.15
    prob = np.clip(rng.normal(np.where(ref, 0.65, 0.35), 0.2), 0, 1)
    if quantised:
        prob = np.floor(prob * 256).clip(0, 255) / 256
    return prob, ref


def test_average_precision_equals_scikit_learn_on_bin_aligned_probabilities():
    prob, ref = random_probabilities(3, quantised=True)
    hist = ProbabilityHistogram()
    hist.add(prob, ref)

    curve = hist.pr_curve()

    expected = skm.average_precision_score(ref.ravel(), prob.ravel())
    assert curve.average_precision == pytest.approx(expected, abs=1e-12)


def test_average_precision_is_close_to_scikit_learn_on_continuous_probabilities():
    prob, ref = random_probabilities(4, quantised=False)
    hist = ProbabilityHistogram()
    for rows in (slice(0, 70), slice(70, 200)):
        hist.add(prob[rows], ref[rows])

    curve = hist.pr_curve()

    expected = skm.average_precision_score(ref.ravel(), prob.ravel())
    assert curve.average_precision == pytest.approx(expected, abs=0.005)


def test_curve_at_one_half_equals_the_thresholded_counts():
    prob, ref = random_probabilities(5, quantised=False)
    hist = ProbabilityHistogram()
    hist.add(prob, ref)
    scores = ConfusionCounts.from_masks(prob >= 0.5, ref).scores()

    curve = hist.pr_curve()

    k = curve.thresholds.index(0.5)
    assert curve.precision[k] == pytest.approx(scores.precision)
    assert curve.recall[k] == pytest.approx(scores.recall)


def test_best_f1_threshold_separates_two_clean_classes():
    ref = np.array([True] * 30 + [False] * 70)
    prob = np.where(ref, 0.8, 0.2)
    hist = ProbabilityHistogram()
    hist.add(prob, ref)

    curve = hist.pr_curve()

    assert curve.best_f1 == 1.0
    assert 0.2 < curve.best_threshold <= 0.8
    assert curve.average_precision == 1.0
    json.dumps(curve.to_json(), allow_nan=False)
