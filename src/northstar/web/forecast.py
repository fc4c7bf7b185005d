"""The overview's forecast band: the North Star's trend carried 8 periods on, with an 80%
prediction interval, by the one projection method `targets` and the alerts use
(`analysis.projection`), so the chart, the targets table and a "target at risk" alert tell the
same story.

- the input is the North Star's complete periods (the current, unfinished one is left out);
- fewer than `MIN_PERIODS` (12) usable periods: no forecast (an empty list) rather than a
  made-up one;
- over the grain's trend window (26 weeks, 12 months, 90 days, 8 quarters), a Theil–Sen line on the scale that
  suits the metric: the logarithm of a positive amount or count (a constant growth rate),
  the square root of a small count (Anscombe's, where counting noise is even, and zeros are
  allowed), the logit of a share, the values otherwise;
- the band: the residuals' robust spread (1.4826 x MAD), never less than the counting noise
  of a count, times `t(0.90, n−2)·√(1 + 1/n + (t−t̄)²/Σ(tᵢ−t̄)²)` (it widens with the
  horizon), taken back to the metric's scale; point, band and all stay in the metric's domain
  (a count never below 0, a share never above 100%) and the band is never a line.

Why not the log-linear least squares it was: on a sparse count (about 10 a month, the odd
zero or burst) it either gave up (a zero) or drew a band to ~860 that flattened the series
into a line at zero. No seasonality, no change points: a trend is what ~half a year of periods
supports; the band says how far the recent periods have strayed from it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from northstar.analysis.domain import Domain
from northstar.analysis.projection import LEVEL, TREND_PERIODS, band, number
from northstar.engine.time import shift_period

WINDOW = 26
MIN_PERIODS = 12
HORIZON = 8


def forecast(periods: Sequence[dt.date], values: Sequence[Any], grain: str, horizon: int = HORIZON,
             domain: Domain | None = None) -> list[dict[str, Any]]:
    """`[{"period", "value", "lower", "upper"}]` for the `horizon` periods after the last one.

    `periods` and `values` are the complete periods, oldest first (values may be None/NaN);
    `domain` is what the metric can be (default: what the values show)."""
    known = [number(v) for v in values]
    if sum(v is not None for v in known) < MIN_PERIODS or not periods:
        return []
    points = band(known, horizon, grain, domain, level=LEVEL, window=TREND_PERIODS.get(grain, WINDOW))
    last = periods[-1]
    return [{"period": shift_period(last, grain, step).isoformat(), "value": value, "lower": lower, "upper": upper}
            for step, (value, lower, upper) in enumerate(points, start=1)
            if all(math.isfinite(x) for x in (value, lower, upper))]
