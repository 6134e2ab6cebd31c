"""Area-frequency density, power-law tail (CSN) and rollover (inverse gamma)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from mlcore.evaluation.area_frequency import area_frequency, fit_inverse_gamma, fit_power_law_tail


def pareto_with_a_body(seed: int, alpha: float = 2.4, xmin: float = 1000.0) -> np.ndarray:
    """5,000 areas from p(A) ~ A^-alpha above xmin, under 2,000 log-uniform smaller ones."""
    rng = np.random.default_rng(seed)
    tail = xmin * (1 - rng.random(5000)) ** (-1 / (alpha - 1))
    body = 10 ** rng.uniform(np.log10(30), np.log10(xmin), 2000)
    return np.concatenate([body, tail])


@pytest.mark.parametrize("seed", [0, 1])
def test_power_law_exponent_of_a_pareto_tail_is_recovered(seed):
    tail = fit_power_law_tail(pareto_with_a_body(seed))

    assert tail.alpha == pytest.approx(2.4, abs=0.1)
    assert 700 < tail.xmin_m2 < 1500
    assert tail.alpha_se == pytest.approx((tail.alpha - 1) / np.sqrt(tail.n_tail))


def test_rollover_is_found_on_inverse_gamma_areas():
    # Malamud et al. (2004): rho 1.40, a 1.28e-3 km2, so the mode is a / (rho + 1).
    areas = stats.invgamma(1.4, scale=1280.0).rvs(size=8000, random_state=3)

    freq = area_frequency(areas)

    assert freq.inverse_gamma.rho == pytest.approx(1.4, rel=0.05)
    assert freq.rollover_m2 == pytest.approx(1280.0 / 2.4, rel=0.1)
    assert 1280.0 / 2.4 / 2 < freq.modal_bin_m2 < 1280.0 / 2.4 * 2


def test_density_is_a_probability_density():
    areas = pareto_with_a_body(4)

    freq = area_frequency(areas)

    widths = np.diff(freq.bin_edges_m2)
    assert float(np.sum(np.asarray(freq.density) * widths)) == pytest.approx(1.0)
    assert sum(freq.counts) == freq.n == len(areas)


def test_too_few_areas_give_no_fits_and_stay_json_safe():
    freq = area_frequency(np.array([120.0, 300.0, 4500.0]))

    assert freq.tail is None and freq.inverse_gamma is None and freq.rollover_m2 is None
    json.dumps(freq.to_json(), allow_nan=False)
    assert fit_inverse_gamma(np.array([])) is None
    assert area_frequency(np.array([])).modal_bin_m2 is None
