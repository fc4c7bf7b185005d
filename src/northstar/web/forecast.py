"""The overview's forecast band: a log-linear trend with an 80% prediction interval.

Deliberately simple, and honest about it:

- the input is the North Star's complete periods (the current, unfinished one is left out);
- fewer than `MIN_PERIODS` (12) usable periods, or a non-positive value among the last
  `WINDOW` (26): no forecast (an empty list) rather than a made-up one;
- over the last 26 periods, ordinary least squares of `log(value)` on the period index
  `t`: `log y = a + b·t`, i.e. a constant growth rate per period;
- the residuals' standard deviation `s` (n − 2 degrees of freedom) gives, for each of the
  next `HORIZON` (8) periods, the classic prediction interval of a new observation
  `ŷ ± t(0.90, n−2) · s · √(1 + 1/n + (t − t̄)² / Σ(tᵢ − t̄)²)`, taken back with `exp`: the
  band is 80% two-sided, asymmetric in the metric's unit, and widens with the horizon;
- the point value is `exp(ŷ)` (the median under log-normal errors, not the mean).

No seasonality, no change points: a trend is what the data supports on ~half a year of
periods; the band says how far the recent periods have strayed from it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from scipy import stats

from northstar.engine.time import shift_period

WINDOW = 26
MIN_PERIODS = 12
HORIZON = 8
LEVEL = 0.80


def forecast(periods: Sequence[dt.date], values: Sequence[Any], grain: str, horizon: int = HORIZON) \
        -> list[dict[str, Any]]:
    """`[{"period", "value", "lower", "upper"}]` for the `horizon` periods after the last one.

    `periods` and `values` are the complete periods, oldest first (values may be None/NaN)."""
    pairs = [(p, float(v)) for p, v in zip(periods, values) if v is not None and not _nan(v)]
    if len(pairs) < MIN_PERIODS:
        return []
    recent = pairs[-WINDOW:]
    if any(v <= 0 for _p, v in recent):
        return []
    # t counts periods from the first of the window, so gaps (missing values) keep their place.
    index = {p: i for i, p in enumerate(periods)}
    first = index[recent[0][0]]
    xs = [index[p] - first for p, _v in recent]
    ys = [math.log(v) for _p, v in recent]
    n = len(xs)
    x_mean, y_mean = sum(xs) / n, sum(ys) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    if sxx == 0:
        return []
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys)) / sxx
    intercept = y_mean - slope * x_mean
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys)]
    s = math.sqrt(sum(r * r for r in residuals) / (n - 2))
    quantile = float(stats.t.ppf(0.5 + LEVEL / 2, n - 2))
    last_period, last_x = periods[-1], index[periods[-1]] - first
    out = []
    for step in range(1, horizon + 1):
        x = last_x + step
        centre = intercept + slope * x
        half = quantile * s * math.sqrt(1 + 1 / n + (x - x_mean) ** 2 / sxx)
        out.append({"period": shift_period(last_period, grain, step).isoformat(), "value": math.exp(centre),
                    "lower": math.exp(centre - half), "upper": math.exp(centre + half)})
    return out


def _nan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
