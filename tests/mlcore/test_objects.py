"""One-to-one matching of predicted to reference polygons by IoU."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from mlcore.evaluation.objects import greedy_one_to_one, match_objects, overlap_pairs


def square(x: float, y: float = 0.0, side: float = 10.0) -> shapely.Polygon:
    return shapely.box(x, y, x + side, y + side)


def geoms(*polygons) -> np.ndarray:
    return np.array(polygons, dtype=object)


def sequential_greedy(pred, ref, score) -> set[tuple[int, int]]:
    """The textbook walk: best score first, accept when both ends are still free."""
    order = sorted(range(len(score)), key=lambda k: (-score[k], pred[k], ref[k]))
    used_p, used_r, out = set(), set(), set()
    for k in order:
        if pred[k] not in used_p and ref[k] not in used_r:
            used_p.add(pred[k])
            used_r.add(ref[k])
            out.add((int(pred[k]), int(ref[k])))
    return out


def test_two_squares_with_known_overlap_match_with_their_iou():
    match = match_objects(geoms(square(2)), geoms(square(0)))

    assert (match.tp, len(match.fp), len(match.fn)) == (1, 0, 0)
    assert match.tp_iou[0] == pytest.approx(80 / 120)
    assert match.precision == match.recall == match.f1 == 1.0


def test_overlap_below_threshold_matches_only_in_any_overlap_mode():
    pred, ref = geoms(square(6)), geoms(square(0))  # IoU 40 / 160

    strict = match_objects(pred, ref, iou_threshold=0.5)
    loose = match_objects(pred, ref, mode="any_overlap")

    assert (strict.tp, len(strict.fp), len(strict.fn)) == (0, 1, 1)
    assert strict.f1 == 0.0
    assert loose.tp == 1 and loose.tp_iou[0] == pytest.approx(0.25)


def test_the_threshold_is_configurable():
    pred, ref = geoms(square(6)), geoms(square(0))

    assert match_objects(pred, ref, iou_threshold=0.25).tp == 1
    assert match_objects(pred, ref, iou_threshold=0.26).tp == 0


def test_squares_touching_at_an_edge_do_not_overlap():
    pairs = overlap_pairs(geoms(square(10)), geoms(square(0)))

    assert len(pairs.iou) == 0


def test_a_reference_polygon_is_matched_at_most_once():
    ref = geoms(square(0))
    pred = geoms(square(1), square(0), square(0.5))  # IoUs 0.818, 1.0, 0.905

    match = match_objects(pred, ref)

    assert match.tp_pred.tolist() == [1] and match.tp_ref.tolist() == [0]
    assert sorted(match.fp.tolist()) == [0, 2]
    assert match.precision == pytest.approx(1 / 3)


def test_greedy_takes_the_best_pair_first_along_a_chain():
    pred = np.array([0, 1, 1, 2])
    ref = np.array([0, 0, 1, 1])
    score = np.array([0.9, 0.8, 0.7, 0.6])

    chosen = greedy_one_to_one(pred, ref, score)

    assert {(int(pred[k]), int(ref[k])) for k in chosen} == {(0, 0), (1, 1)}


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_greedy_equals_the_sequential_walk(seed):
    rng = np.random.default_rng(seed)
    n = 400
    pred = rng.integers(0, 60, n)
    ref = rng.integers(0, 50, n)
    score = np.round(rng.random(n), 2)  # ties on purpose

    chosen = greedy_one_to_one(pred, ref, score)

    assert {(int(pred[k]), int(ref[k])) for k in chosen} == sequential_greedy(pred, ref, score)


def test_random_overlapping_polygons_match_one_to_one():
    rng = np.random.default_rng(11)
    centres = rng.uniform(0, 500, (300, 2))
    ref = shapely.buffer(shapely.points(centres), rng.uniform(3, 15, 300))
    pred = shapely.buffer(shapely.points(centres + rng.normal(0, 4, (300, 2))), 10.0)

    for mode in ("iou", "any_overlap"):
        match = match_objects(pred, ref, mode=mode)
        assert len(set(match.tp_pred.tolist())) == match.tp
        assert len(set(match.tp_ref.tolist())) == match.tp
        assert match.tp + len(match.fp) == 300 and match.tp + len(match.fn) == 300
    assert match_objects(pred, ref, mode="any_overlap").tp >= match_objects(pred, ref).tp


def test_recall_and_precision_by_size_class():
    small, medium, large = square(0, side=7), square(100, side=20), square(200, side=80)
    ref = geoms(small, medium, large)
    pred = geoms(square(101, side=20), square(500, side=5))

    match = match_objects(pred, ref)
    by_lower = {c.lower_m2: c for c in match.by_size}

    assert by_lower[0.0].n_ref == 1 and by_lower[0.0].recall == 0.0
    assert by_lower[100.0].n_ref == 1 and by_lower[100.0].recall == 1.0
    assert by_lower[1000.0].n_ref == 1 and by_lower[1000.0].recall == 0.0
    assert by_lower[10000.0].recall is None
    assert by_lower[0.0].n_pred == 1 and by_lower[0.0].precision == 0.0
    assert by_lower[100.0].precision == 1.0


def test_no_polygons_give_undefined_scores():
    match = match_objects(geoms(), geoms())

    assert match.tp == 0 and match.precision is None and match.f1 is None
