"""Does one series lead another? Lagged cross-correlation of growth, and a Granger-type F-test.

Both series are turned into growth per period first (log differences for mostly positive
series, with zero periods left out; plain differences otherwise; one-off outliers clipped: see
`growth`) so that a shared trend does not pass for a lead. For each lag
0..k the Pearson correlation of x's growth `lag` periods earlier with y's growth is computed;
the best lag is the one with the strongest correlation in the expected direction. The
Granger-type test compares two least-squares models of y's growth: its own `L` previous values
(restricted) and those plus x's `L` previous values (full), with an F-test; a small p-value says
x's past improves the prediction of y, i.e. x leads y.

Picking the best of k lags and then testing it at the usual level finds a "lead" in pure noise
far more often than the level says: for 400 pairs of unrelated random walks of 60 periods, the
best of lags 0..8 had a positive correlation with p < 0.05 in 20% of the pairs (2% corrected),
and a Granger p < 0.05 in 9% (1% corrected). So every p-value of
the best lag is also given Bonferroni-corrected for the number of lags tried (p x k, at most 1):
the best of k tests passes at level a only when its own p is below a / k, which keeps the chance
of a false lead among the k lags at a or below. Decisions and advice use the corrected values;
a p-value of one lag fixed in advance (a driver's declared lag) needs no correction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

MIN_POINTS = 12


MOSTLY_POSITIVE = 0.8  # a series positive in this share of its periods grows on the log scale
OUTLIER_MADS = 6.0  # growths further than this many robust deviations from the median are clipped
OUTLIER_POINTS = 26  # ... once there are enough growths for the deviation to be known (half a year of weeks)


def growth(series: pd.Series) -> pd.Series:
    """Growth per period, robust to closures and one-off outliers.

    Log differences when the series is positive in at least `MOSTLY_POSITIVE` of its periods;
    a period at zero (a shop closed over Christmas, a payment outage) then has no growth into or
    out of it (NaN) instead of turning the whole series into plain differences, where its swing
    would swamp every other period. Plain differences for series that are not mostly positive.
    Then growths beyond `OUTLIER_MADS` robust deviations (1.4826 x MAD) from the median are
    clipped there: one catch-up week after an outage must not decide a correlation alone
    (for normal growth the clip moves about one period in a hundred million; with fewer than
    `OUTLIER_POINTS` growths nothing is clipped).
    """
    values = series.astype(float)
    known = values.dropna()
    if len(known) and (known > 0).mean() >= MOSTLY_POSITIVE:
        out = np.log(values.where(values > 0)).diff()
    else:
        out = values.diff()
    finite = out[np.isfinite(out)]
    if len(finite) >= OUTLIER_POINTS:
        centre = float(finite.median())
        spread = 1.4826 * float((finite - centre).abs().median())
        if spread > 0:
            out = out.clip(centre - OUTLIER_MADS * spread, centre + OUTLIER_MADS * spread)
    return out


@dataclass(frozen=True)
class Lead:
    """How x leads y: best lag, its correlation and the Granger p-value at that lag.

    `p_value` and `correlation_p` are the p-values of that one lag as if it had been chosen in
    advance; `lags_tried` says of how many it is the best, and the `_adjusted` values correct
    for that choice (Bonferroni). Judge with the adjusted values.
    """

    lag: int
    correlation: float
    p_value: float | None  # Granger-type F-test at `lag` (lag >= 1); None at lag 0
    correlation_p: float
    points: int
    by_lag: dict[int, float] = field(default_factory=dict)
    lags_tried: int = 1

    @property
    def p_value_adjusted(self) -> float | None:
        return None if self.p_value is None else bonferroni(self.p_value, self.lags_tried)

    @property
    def correlation_p_adjusted(self) -> float:
        return bonferroni(self.correlation_p, self.lags_tried)

    @property
    def corrected_p(self) -> float:
        """The name explain/funnel.py reads (`correlation_p_adjusted`)."""
        return self.correlation_p_adjusted

    def leads(self, significance: float = 0.05) -> bool:
        """x leads y: the best lag is at least 1, positive, and its Granger-type test passes after
        the correction for the lags tried."""
        p = self.p_value_adjusted
        return self.lag >= 1 and self.correlation > 0 and p is not None and p < significance

    def to_dict(self) -> dict[str, Any]:
        return {"lag": self.lag, "correlation": _round(self.correlation), "p_value": _round(self.p_value),
                "p_value_adjusted": _round(self.p_value_adjusted),
                "correlation_p_value": _round(self.correlation_p),
                "correlation_p_value_adjusted": _round(self.correlation_p_adjusted),
                "lags_tried": self.lags_tried, "correction": "bonferroni", "periods": self.points,
                "correlation_by_lag": {str(k): _round(v) for k, v in self.by_lag.items()}}


def bonferroni(p: float, tests: int) -> float:
    """The p-value of the best of `tests` tests, corrected: p x tests, at most 1."""
    return min(1.0, p * max(tests, 1))


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def lagged_correlations(gx: pd.Series, gy: pd.Series, max_lag: int) -> dict[int, tuple[float, float, int]]:
    """{lag: (r, p, n)}: correlation of x's growth `lag` periods before y's growth."""
    out: dict[int, tuple[float, float, int]] = {}
    for lag in range(max_lag + 1):
        pair = pd.concat([gx.shift(lag), gy], axis=1).dropna()
        if len(pair) < MIN_POINTS or pair.iloc[:, 0].std() == 0 or pair.iloc[:, 1].std() == 0:
            continue
        r, p = pearson(pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy())
        out[lag] = (r, p, len(pair))
    return out


def pearson(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson's r and its two-sided p-value (t-test with n-2 degrees of freedom, as scipy's
    `pearsonr`)."""
    from scipy import special

    n = len(x)
    r = float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))
    if abs(r) == 1.0:
        return r, 0.0
    t = r * np.sqrt((n - 2) / (1 - r * r))
    return r, float(2 * special.stdtr(n - 2, -abs(t)))


def granger_p(gx: pd.Series, gy: pd.Series, lag: int) -> float | None:
    """p-value of the F-test that x's `lag` previous growths add to y's own past in predicting y."""
    if lag < 1:
        return None
    columns = {"y": gy}
    for k in range(1, lag + 1):
        columns[f"y{k}"] = gy.shift(k)
        columns[f"x{k}"] = gx.shift(k)
    frame = pd.DataFrame(columns).dropna()
    n = len(frame)
    full_k = 1 + 2 * lag  # parameters of the full model
    if n - full_k < 5:
        return None
    y = frame["y"].to_numpy()
    own = np.column_stack([np.ones(n)] + [frame[f"y{k}"].to_numpy() for k in range(1, lag + 1)])
    both = np.column_stack([own] + [frame[f"x{k}"].to_numpy() for k in range(1, lag + 1)])
    rss_r = _rss(own, y)
    rss_f = _rss(both, y)
    if rss_f <= 0:
        return 0.0
    f = ((rss_r - rss_f) / lag) / (rss_f / (n - full_k))
    from scipy import special  # 0.2 s to import, against 0.6 s for scipy.stats

    return float(special.fdtrc(lag, n - full_k, f))


def _rss(design: np.ndarray, y: np.ndarray) -> float:
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    return float(residual @ residual)


def lead(x: pd.Series, y: pd.Series, max_lag: int, sign: int = 1) -> Lead | None:
    """How x's growth leads y's over lags 0..max_lag (sign -1: x should move y the other way).

    None when there are too few common periods to say.
    """
    gx, gy = growth(x), growth(y)
    gx, gy = gx.align(gy, join="inner")
    found = lagged_correlations(gx, gy, max_lag)
    if not found:
        return None
    best = max(found, key=lambda k: (sign * found[k][0], -k))
    r, p, n = found[best]
    return Lead(best, r, granger_p(gx, gy, best), p, n, {k: v[0] for k, v in found.items()}, len(found))


def at_lag(x: pd.Series, y: pd.Series, lag: int) -> tuple[float, float, int] | None:
    """(r, p, n) of x's growth `lag` periods before y's growth, or None with too little data."""
    gx, gy = growth(x).align(growth(y), join="inner")
    return lagged_correlations(gx, gy, lag).get(lag)
