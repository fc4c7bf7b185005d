"""Signal-to-noise of a metric at each grain: which grain shows a real change soonest?

At each grain the series is divided by its centred moving average (about two months wide),
which leaves the part teams would read as movement but that is noise or calendar pattern:
`noise` is the standard deviation of that relative residual. At the day grain,
`seasonal_share` is the part of the residual's variance that the day of the week explains.

The grains are then compared by how soon a real, lasting change of `change` (5%) stands out:
comparing the mean of n periods after with n before, the change is visible (two-sided 95%)
when n >= 2 * (1.96 * noise / change)^2, i.e. after n periods of the grain's length in days.
Fine grains see early but noisily; coarse grains see clearly but late; the best grain is the
one with the fewest days to see the change (the finer one on a tie).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

WINDOW = {"day": 57, "week": 9, "month": 3, "quarter": 3, "year": 3}
DAYS = {"day": 1, "week": 7, "month": 30.44, "quarter": 91.31, "year": 365.25}
MIN_PERIODS = 8
Z = 1.96


@dataclass(frozen=True)
class GrainSignal:
    grain: str
    periods: int
    noise: float  # relative std of the series around its moving average
    seasonal_share: float | None  # share of that variation explained by the day of the week (day grain)
    periods_to_see: int
    days_to_see: float

    def to_dict(self) -> dict[str, Any]:
        return {"grain": self.grain, "periods": self.periods, "noise": round(self.noise, 4),
                "seasonal_share": None if self.seasonal_share is None else round(self.seasonal_share, 3),
                "periods_to_see_change": self.periods_to_see, "days_to_see_change": round(self.days_to_see, 1),
                "signal_to_noise": round(1 / self.noise, 2) if self.noise > 0 else None}


def grain_signal(series: pd.Series, grain: str, change: float = 0.05) -> GrainSignal | None:
    """The noise of a series at its grain and how many days a `change` takes to show; None with
    too few periods or a series that is not positive on average."""
    values = series.astype(float).dropna()
    window = WINDOW[grain]
    if len(values) < max(MIN_PERIODS, window + 2):
        return None
    trend = values.rolling(window, center=True, min_periods=window).mean()
    ratio = (values / trend - 1).replace([np.inf, -np.inf], np.nan).dropna()
    if len(ratio) < MIN_PERIODS or trend.mean() <= 0:
        return None
    noise = float(ratio.std(ddof=1))
    seasonal = None
    if grain == "day":
        weekday = pd.Series(pd.to_datetime(ratio.index).day_of_week, index=ratio.index)
        explained = ratio.groupby(weekday).transform("mean")
        total = float(((ratio - ratio.mean()) ** 2).sum())
        seasonal = 0.0 if total == 0 else max(0.0, 1 - float(((ratio - explained) ** 2).sum()) / total)
    periods = max(1, math.ceil(2 * (Z * noise / change) ** 2))
    return GrainSignal(grain, len(values), noise, seasonal, periods, periods * DAYS[grain])


def best_grain(signals: list[GrainSignal]) -> GrainSignal | None:
    order = list(DAYS)
    return min(signals, key=lambda s: (s.days_to_see, order.index(s.grain))) if signals else None
