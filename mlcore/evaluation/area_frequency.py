"""Landslide area-frequency distributions: log-binned density, power-law tail, rollover.

The density follows Malamud et al. (2004): p(A) = (1 / N_total) * dN / dA in
logarithmic bins, so inventories of different sizes fall on one log-log plot.

The tail p(A) ~ A^-alpha above A_min is fitted by maximum likelihood with A_min
chosen by the Kolmogorov-Smirnov method of Clauset, Shalizi and Newman (2009).
The rollover (the area where p(A) peaks, below which small landslides become
rarer) comes from a maximum-likelihood inverse-gamma fit, Malamud's
three-parameter model with s = 0: it is the mode a / (rho + 1). The modal
log bin is reported beside it as a model-free check.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, special

MIN_TAIL = 50
MAX_XMIN_CANDIDATES = 200
MIN_FOR_ROLLOVER = 20


@dataclass(frozen=True)
class PowerLawTail:
    """p(A) ~ A^-alpha for A >= xmin_m2, with the standard error (alpha - 1) / sqrt(n)."""

    alpha: float
    alpha_se: float
    xmin_m2: float
    n_tail: int
    ks_distance: float


@dataclass(frozen=True)
class InverseGammaFit:
    """p(A) = (a / A)^(rho + 1) exp(-a / A) / (a Gamma(rho)); its mode is the rollover."""

    rho: float
    a_m2: float
    rollover_m2: float


@dataclass(frozen=True)
class AreaFrequency:
    """One inventory's area distribution; lists are per log bin, empty bins included."""

    n: int
    total_m2: float
    bin_edges_m2: list[float]
    bin_centres_m2: list[float]
    counts: list[int]
    density: list[float]
    modal_bin_m2: float | None
    tail: PowerLawTail | None
    inverse_gamma: InverseGammaFit | None

    @property
    def rollover_m2(self) -> float | None:
        return self.inverse_gamma.rollover_m2 if self.inverse_gamma else None

    def to_json(self) -> dict:
        return {**asdict(self), "rollover_m2": self.rollover_m2}


def log_bin_edges(*area_sets: np.ndarray, bins_per_decade: int = 5) -> np.ndarray:
    """Edges shared by several inventories: whole decades around all their areas."""
    positive = [a[a > 0] for a in area_sets if np.any(np.asarray(a) > 0)]
    if not positive:
        return np.array([1.0, 10.0])
    lo = math.floor(math.log10(min(float(a.min()) for a in positive)))
    hi = math.ceil(math.log10(max(float(a.max()) for a in positive)))
    hi = max(hi, lo + 1)
    return np.logspace(lo, hi, (hi - lo) * bins_per_decade + 1)


def area_frequency(
    areas_m2: np.ndarray, *, edges_m2: np.ndarray | None = None, min_tail: int = MIN_TAIL
) -> AreaFrequency:
    """Density, tail fit and rollover of one set of landslide areas (m2)."""
    areas = np.asarray(areas_m2, dtype=np.float64)
    areas = areas[areas > 0]
    edges = log_bin_edges(areas) if edges_m2 is None else np.asarray(edges_m2, np.float64)
    counts, _ = np.histogram(areas, bins=edges)
    widths = np.diff(edges)
    density = counts / (len(areas) * widths) if len(areas) else np.zeros(len(counts))
    centres = np.sqrt(edges[:-1] * edges[1:])
    modal = float(centres[np.argmax(density)]) if len(areas) else None
    return AreaFrequency(
        n=len(areas),
        total_m2=float(areas.sum()),
        bin_edges_m2=edges.tolist(),
        bin_centres_m2=centres.tolist(),
        counts=counts.tolist(),
        density=density.tolist(),
        modal_bin_m2=modal,
        tail=fit_power_law_tail(areas, min_tail=min_tail),
        inverse_gamma=fit_inverse_gamma(areas),
    )


def fit_power_law_tail(
    areas_m2: np.ndarray,
    *,
    min_tail: int = MIN_TAIL,
    max_candidates: int = MAX_XMIN_CANDIDATES,
) -> PowerLawTail | None:
    """Continuous power-law MLE with xmin minimising the KS distance (CSN 2009).

    For each candidate xmin, alpha = 1 + n / sum(ln(A / xmin)) over the n
    areas >= xmin, and D is the largest gap between the empirical and fitted
    CDFs of that tail. CSN try every distinct area; we try up to
    `max_candidates` of them evenly spaced in rank, which keeps 10^5 areas
    under a second and moves xmin by less than the KS minimum's own width.
    Tails shorter than `min_tail` are not tried: they fit anything. None when
    there are too few areas.
    """
    x = np.sort(np.asarray(areas_m2, dtype=np.float64))
    x = x[x > 0]
    if len(x) < min_tail:
        return None
    distinct = np.unique(x[: len(x) - min_tail + 1])
    if len(distinct) > max_candidates:
        distinct = distinct[np.linspace(0, len(distinct) - 1, max_candidates).astype(int)]
    starts = np.searchsorted(x, distinct, side="left")
    logs = np.log(x)
    suffix = np.cumsum(logs[::-1])[::-1]
    best: PowerLawTail | None = None
    for start, xmin in zip(starts, distinct, strict=True):
        n = len(x) - start
        spread = suffix[start] - n * math.log(xmin)
        if spread <= 0:
            continue
        alpha = 1.0 + n / spread
        model = 1.0 - np.exp((1.0 - alpha) * (logs[start:] - math.log(xmin)))
        ranks = np.arange(n)
        d = max(float(np.max((ranks + 1) / n - model)), float(np.max(model - ranks / n)))
        if best is None or d < best.ks_distance:
            best = PowerLawTail(
                alpha=float(alpha),
                alpha_se=float((alpha - 1.0) / math.sqrt(n)),
                xmin_m2=float(xmin),
                n_tail=int(n),
                ks_distance=d,
            )
    return best


def fit_inverse_gamma(areas_m2: np.ndarray) -> InverseGammaFit | None:
    """Maximum-likelihood inverse-gamma fit (location fixed at 0), None for < 20 areas.

    If A is inverse-gamma(rho, a), 1/A is gamma(shape rho, rate a), whose MLE
    solves ln(rho) - digamma(rho) = ln(mean(1/A)) - mean(ln(1/A)) for rho
    (one root, found by bracketing) and then a = rho / mean(1/A).
    """
    areas = np.asarray(areas_m2, dtype=np.float64)
    areas = areas[areas > 0]
    if len(areas) < MIN_FOR_ROLLOVER:
        return None
    y = 1.0 / areas
    s = math.log(float(y.mean())) - float(np.log(y).mean())
    if not s > 1e-7:
        return None

    def score(rho: float) -> float:
        return math.log(rho) - float(special.digamma(rho)) - s

    rho = optimize.brentq(score, 1e-8, 1e9, xtol=1e-12, rtol=1e-12)
    a = rho / float(y.mean())
    return InverseGammaFit(rho=float(rho), a_m2=float(a), rollover_m2=float(a / (rho + 1.0)))
