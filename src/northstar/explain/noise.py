"""Is a level really better than another, or within the noise of small numbers?

A funnel stage's "reachable level" is a level it has reached before; on sparse data (a
community with a dozen contributors a month) the best of twelve periods is mostly luck: six
questions in the best month against one now is not evidence of a better level (under one
rate, 7 questions fall 6-1 or more lopsided 6% of the time). Before a gap between the level now
and a reachable one counts, it must beat counting noise:

- a count (rows or distinct entities per period): the exact conditional test for two Poisson
  counts: given k + n events, the better period holds at least k of them with probability
  P(Bin(k + n, 1/2) >= k) when the rate is the same;
- a share of a population (a conversion, a retention, a ratio of counts): a one-sided
  two-proportion z-test with the pooled share, on the populations behind both levels;
- anything else (sums of amounts, averages): no counting model, the gap counts as it is.

The one-sided p-value is compared with `checks.significance`.
"""

from __future__ import annotations

import math

from scipy import special


def count_p(better: float, worse: float) -> float:
    """One-sided p-value that a count of `better` beats `worse` by chance under one Poisson rate."""
    k, n = round(better), round(better) + round(worse)
    if n <= 0 or k <= 0:
        return 1.0
    return float(special.bdtrc(k - 1, n, 0.5))  # P(X >= k) for X ~ Bin(n, 1/2)


def share_p(better: float, n_better: float, worse: float, n_worse: float) -> float:
    """One-sided p-value that a share `better` (of `n_better`) beats `worse` (of `n_worse`) by chance."""
    if n_better <= 0 or n_worse <= 0:
        return 1.0
    pooled = (better * n_better + worse * n_worse) / (n_better + n_worse)
    spread = math.sqrt(max(pooled * (1 - pooled), 0.0) * (1 / n_better + 1 / n_worse))
    if spread == 0:
        return 0.0 if better > worse else 1.0
    return float(special.ndtr(-(better - worse) / spread))
