"""How often the detector fires on series without anomalies: generated series, the share of
scored periods flagged. The false-alarm tables in docs/guides/alerts.md are these functions' output, and
tests/test_alerts_detect.py pins them.

* `false_alarm_rate`: smooth series (a level of 1,000, a yearly sine, a trend, 3% normal
  noise): what a large product's weekly or daily totals look like.
* `sparse_false_alarm_rate`: Poisson counts with a mean of 1 to 20 a period, what a small
  community's or a segment's counts look like, optionally with empty periods: `scattered`
  (5% of the periods zeroed at random: a data gap, a quiet week) or `closure` (two periods
  in a row zeroed: a shop closed over Christmas). The zeroed periods themselves are not
  counted as false alarms (at a mean of 20 an empty period *is* an anomaly; at a mean of 1 it
  is not); every other period is, the period after a closure included. `found` says how
  many of the zeroed periods fired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from northstar.alerts.detect import DEFAULT_SENSITIVITY, SEASONS, history_needed, score_series
from northstar.analysis.domain import COUNT

EMPTY: tuple[str, ...] = ("none", "scattered", "closure")
SCATTERED_SHARE = 0.05


def _index(periods: int, grain: str) -> list[dt.date]:
    first = dt.date(2022, 1, 3)
    if grain == "month":
        return [dt.date(2022 + (i // 12), i % 12 + 1, 1) for i in range(periods)]
    step = {"day": 1, "week": 7}.get(grain, 7)
    return [first + dt.timedelta(days=step * i) for i in range(periods)]


def synthetic_series(periods: int = 156, grain: str = "week", seed: int = 0, level: float = 1000.0,
                     trend: float = 2.0, season: float = 0.15, noise: float = 0.03) -> pd.Series:
    """A stationary seasonal series without anomalies (yearly sine, linear trend, normal noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(periods)
    length = SEASONS.get(grain, 52)
    y = level + trend * t + season * level * np.sin(2 * np.pi * t / length) + rng.normal(0, noise * level, periods)
    return pd.Series(y, index=_index(periods, grain))


def false_alarm_rate(sensitivity: float = DEFAULT_SENSITIVITY, series: int = 20, periods: int = 156,
                     grain: str = "week", min_history: int | None = None) -> float:
    """Share of scored periods flagged on `series` generated series without anomalies."""
    flagged = scored = 0
    for seed in range(series):
        scores = score_series(synthetic_series(periods, grain, seed), grain, min_history, sensitivity=sensitivity)
        scored += len(scores)
        flagged += sum(s.is_anomaly(sensitivity) for s in scores)
    return flagged / scored if scored else 0.0


def count_series(mean: float, periods: int = 156, grain: str = "week", seed: int = 0,
                 empty: str = "none", min_history: int | None = None) -> tuple[pd.Series, set[int]]:
    """Poisson counts with `mean` a period, and the positions of the periods zeroed (`empty`:
    none, scattered or closure; only in the scored part, after `min_history` periods)."""
    if empty not in EMPTY:
        raise ValueError(f"empty: '{empty}' is not one of {', '.join(EMPTY)}")
    rng = np.random.default_rng(seed)
    values = rng.poisson(mean, periods).astype(float)
    first = max(history_needed(grain, min_history), 3) + 1
    zeroed: set[int] = set()
    if empty == "scattered":
        count = max(1, round(SCATTERED_SHARE * (periods - first)))
        zeroed = {int(i) for i in rng.choice(np.arange(first, periods), count, replace=False)}
    elif empty == "closure":
        at = int(rng.integers(first, periods - 2))
        zeroed = {at, at + 1}
    values[list(zeroed)] = 0.0
    return pd.Series(values, index=_index(periods, grain)), zeroed


@dataclass(frozen=True)
class SparseRate:
    mean: float
    grain: str
    empty: str
    scored: int  # scored periods that were not zeroed
    flagged: int  # of those, flagged: false alarms
    planted: int  # zeroed periods scored
    found: int  # of those, flagged

    @property
    def rate(self) -> float:
        return self.flagged / self.scored if self.scored else 0.0


def sparse_false_alarm_rate(mean: float, grain: str = "week", empty: str = "none",
                            sensitivity: float = DEFAULT_SENSITIVITY, series: int = 50,
                            periods: int | None = None, min_history: int | None = None) -> SparseRate:
    """False alarms on `series` Poisson count series (see the module docstring); `periods`
    defaults to 3 years of weeks (156) or 6 years of months (72)."""
    length = periods or {"week": 156, "month": 72, "day": 365, "quarter": 24}.get(grain, 156)
    flagged = scored = planted = found = 0
    for seed in range(series):
        values, zeroed = count_series(mean, length, grain, seed, empty, min_history)
        position = {p: i for i, p in enumerate(values.index)}
        for s in score_series(values, grain, min_history, sensitivity=sensitivity, domain=COUNT):
            hit = s.is_anomaly(sensitivity)
            if position[s.period] in zeroed:
                planted, found = planted + 1, found + hit
            else:
                scored, flagged = scored + 1, flagged + hit
    return SparseRate(mean, grain, empty, scored, flagged, planted, found)
