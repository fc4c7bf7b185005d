"""Counting noise: how much a count or a share varies from period to period when nothing
changes, and how surprising a value is against it.

A count of n events is at least Poisson-noisy (about sqrt(n)), a share p of d entities at
least binomially (about sqrt(p(1-p)/d)), a sum of n values at least by 1/sqrt(n) of itself,
an average of n values by their standard deviation / sqrt(n). An interval is never narrower
than that noise, whatever a quiet history suggests (`alerts.detect` applies the floors).

Small counts are judged as counts, not as numbers on a normal curve: the value's tail
probability under a negative binomial around the expected count, with variance `dispersion`
x the mean (1: Poisson; more when the series varies more than counting alone explains,
measured from its own forecast errors). A tail probability is reported as the *normal-
equivalent score*: the z whose one-sided normal tail has the same probability, so a rule's
`sensitivity` of 4 means the same rarity (3.2e-5 on one side) for every model.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

MAX_SCORE = 40.0  # scores are capped here: beyond it, a tail probability is 0 in floating point
TRIMMED_CHI2 = 0.623  # E[Z^2 | Z^2 below its 90th percentile], Z standard normal


def tail_probability(score: float) -> float:
    """The one-sided normal tail beyond |score|: the rarity a sensitivity stands for."""
    return float(special.ndtr(-abs(score)))


def score_of(probability: float, sign: float) -> float:
    """The normal-equivalent score of a one-sided tail probability, with `sign` (0 for a
    probability of one half or more: not in the tail at all)."""
    if not probability < 0.5:
        return 0.0
    z = -float(special.ndtri(max(probability, 1e-300)))
    return math.copysign(min(z, MAX_SCORE), sign)


def _cdf(k: float, mean: float, dispersion: float) -> float:
    """P(X <= k) for the counts model: Poisson (`dispersion` 1) or the negative binomial with
    variance `dispersion` x `mean` (scipy.special directly: a frozen scipy distribution per
    period cost seconds on a backtest)."""
    if k < 0:
        return 0.0
    mean = max(mean, 1e-12)
    if dispersion <= 1.0 + 1e-9:
        return float(special.pdtr(k, mean))
    p = 1.0 / dispersion  # NB(r, p): P(X <= k) = I_p(r, k + 1), r = mean p / (1 - p) need not be whole
    return float(special.betainc(mean * p / (1.0 - p), math.floor(k) + 1.0, p))


def _sf(k: float, mean: float, dispersion: float) -> float:
    """P(X > k), computed as its own tail (not 1 - cdf, which rounds to 0 far out)."""
    if k < 0:
        return 1.0
    mean = max(mean, 1e-12)
    if dispersion <= 1.0 + 1e-9:
        return float(special.pdtrc(k, mean))
    p = 1.0 / dispersion  # P(X > k) = I_(1 - p)(k + 1, r)
    return float(special.betainc(math.floor(k) + 1.0, mean * p / (1.0 - p), 1.0 - p))


def count_score(value: float, mean: float, dispersion: float = 1.0) -> float:
    """How surprising `value` is as a count with expected `mean` (normal-equivalent score:
    positive above, negative below): P(X >= value) or P(X <= value) under the counts model."""
    if value != value:
        return 0.0
    if value > mean:
        return score_of(_sf(math.ceil(value - 1e-9) - 1, mean, dispersion), 1.0)
    if value < mean:
        return score_of(_cdf(math.floor(value + 1e-9), mean, dispersion), -1.0)
    return 0.0


def count_interval(mean: float, dispersion: float, sensitivity: float) -> tuple[float, float]:
    """The counts that would not fire at `sensitivity` around `mean`: from the smallest whose
    lower tail is above the rarity to the largest whose upper tail is. Never of zero width
    (`mean` > 0 always leaves at least 0 and 1 in it at any sensitivity a rule accepts)."""
    rarity = tail_probability(sensitivity)
    spread = math.sqrt(max(dispersion, 1.0) * max(mean, 1e-12))
    lower = max(0.0, math.floor(mean - 12 * spread - 1))
    while _cdf(lower, mean, dispersion) <= rarity:  # P(X <= lower) too small: lower would fire
        lower += 1
    upper = max(lower, math.ceil(mean))
    while _sf(upper, mean, dispersion) > rarity:  # P(X >= upper + 1) above the rarity: upper + 1 would not fire
        upper += 1
    return float(lower), float(max(upper, lower + 1.0))


def share_noise(share: float, size: float) -> float:
    """Binomial noise of a share of `size` entities, sqrt(p(1-p)/d), with p kept at least half
    an entity from 0 and 1 (a share seen at 0% or 100% of a few is not certain)."""
    if not size or size <= 0 or share != share:
        return 0.0
    edge = 0.5 / (size + 1.0)
    p = min(max(share, edge), 1.0 - edge)
    return math.sqrt(p * (1.0 - p) / size)


def dispersion_of(errors: np.ndarray, means: np.ndarray) -> float:
    """Variance / mean of a count series around its forecasts, at least 1 (Poisson): the mean
    squared Pearson residual (value - expected) / sqrt(expected) with the largest tenth left
    out (past anomalies must not inflate it), divided by what that trimmed mean is for normal
    noise (`TRIMMED_CHI2`). Not a MAD: on counts of about 1 the residuals take three or four
    values and their MAD says 2.2 for pure Poisson noise. The forecasts' own error is part of
    it, as it should be: it is part of the surprise."""
    errors, means = np.asarray(errors, dtype=float), np.asarray(means, dtype=float)
    ok = np.isfinite(errors) & np.isfinite(means) & (means > 0)
    if ok.sum() < 3:
        return 1.0
    squared = np.sort(errors[ok] ** 2 / means[ok])
    kept = squared[:max(1, int(math.ceil(0.9 * len(squared))))]
    return max(1.0, float(np.mean(kept)) / TRIMMED_CHI2)
