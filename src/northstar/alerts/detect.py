"""Anomaly detection on a metric's series of complete periods.

Method. The expected value of period t is forecast from the periods *before* t only (so a
backtest sees exactly what a live run would have seen), with medians only (robust):

* a series that is always positive is modelled on the log scale: a change is judged by its
  relative size, so a product that grows tenfold keeps the same sensitivity. A series that
  is positive but for a rare zero (at most `MAX_ZERO_SHARE` of its periods: an outage, a
  broken pipeline) stays on the log scale, its zeros counted as a tenth of its smallest
  positive value (zeros before the metric started do not count against it): a fall to zero
  is then judged as the extreme it is, and one outage week does not switch the whole series
  to the far less sensitive linear scale;
* with enough history for a seasonal term (weekly grain: 2 years, season 52; day grain:
  2 weeks, season 7; month: 3 years, season 12; quarter: 3 years, season 4), seasonal naive
  plus trend: the value one season before t plus the median season-over-season change of
  the last `TREND_WINDOW` periods;
* otherwise the median of the last 3 periods, each carried forward by the median
  period-over-period change (the trend) of the last `TREND_WINDOW` periods.

The scale is *calibrated on the method's own past errors*: the MAD (x 1.4826) of the one-step
forecast errors of the last `ERROR_WINDOW` periods, floored at 0.1% of the level. The score is
(value - expected) / scale; an anomaly is |score| >= sensitivity (default 4), once the history
holds `min_history` complete periods (default by grain: 26 weeks, 56 days, 12 months, 8
quarters) and `MIN_ERRORS` past errors. The incomplete last period is never scored: callers
pass complete periods only.

An anomalous period does not become the new normal at once: in the history of later
forecasts it is replaced by what was expected, so the second week of an outage is still
compared with normal weeks, and the recovery is not an anomaly. After `MAX_REPLACED`
anomalous periods in a row the new level is accepted (a lasting shift, not an incident). For
`SHIFT_MEMORY` periods after an anomaly the history as it was before it is kept as well (with
the periods that were not clearly normal replaced by its own forecast): a value that is an
anomaly against the current forecast but normal against that one is the end of the incident
(a four-week campaign that ended, a rate that drifted back), not a new anomaly, and later
forecasts start from the level before the incident again. Likewise, after a dip or spike of the
last `RETURN_LOOKBACK` periods too small to fire (the forecast followed it), a value back at what
was expected before them is a return, not an anomaly.

False alarms (measured by `false_alarm_rate`, see tests/test_alerts_detect.py): on generated
weekly series with yearly seasonality, a trend and Gaussian noise and no anomalies, 3 years
long (50 series), the share of scored periods flagged is stated in the README and pinned by
the tests; on the demo (two years, 14 metrics) the backtest counts are in the README.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAD_FACTOR = 1.4826
TREND_WINDOW = 26
RECENT_WINDOW = 13  # the recent horizon of the damped trend (a quarter of weeks)
RETURN_LOOKBACK = 4  # a value back at the level expected before the last periods is no anomaly
ERROR_WINDOW = 26
MIN_ERRORS = 8
MAX_REPLACED = 3
SHIFT_MEMORY = 13  # periods after an anomaly in which a return to the level before it is no anomaly
SEASONS = {"day": 7, "week": 52, "month": 12, "quarter": 4, "year": None}  # year: no season within it, trend only
SEASON_CYCLES = {"day": 2, "week": 2, "month": 3, "quarter": 3, "year": 0}  # full seasons needed before using one
MIN_HISTORY = {"day": 56, "week": 26, "month": 12, "quarter": 8, "year": 5}
DEFAULT_SENSITIVITY = 4.0
MAX_ZERO_SHARE = 0.05  # zeros a positive series may hold and stay on the log scale
ZERO_AS = 0.1  # on the log scale a zero counts as this fraction of the smallest positive value


@dataclass(frozen=True)
class Score:
    period: dt.date
    value: float
    expected: float
    scale: float  # of the error, on the log scale when `log`
    score: float
    history: int  # complete periods before this one
    method: str  # "seasonal" | "trend"
    log: bool = False
    nonnegative: bool = False  # a series never below zero (counts, sums): its interval stops at 0

    def interval(self, sensitivity: float) -> tuple[float, float]:
        if self.log:
            return self.expected * math.exp(-sensitivity * self.scale), self.expected * math.exp(sensitivity * self.scale)
        lower = self.expected - sensitivity * self.scale
        return (max(lower, 0.0) if self.nonnegative else lower), self.expected + sensitivity * self.scale

    def is_anomaly(self, sensitivity: float = DEFAULT_SENSITIVITY) -> bool:
        return abs(self.score) >= sensitivity

    def to_dict(self) -> dict:
        return {"period": self.period.isoformat(), "value": self.value, "expected": self.expected,
                "scale": self.scale, "score": self.score, "history": self.history, "method": self.method,
                "log": self.log}


def season_length(grain: str, n: int) -> int | None:
    """The seasonal period used for a history of `n` periods, or None (trend only)."""
    period = SEASONS.get(grain)
    if period is None or n < SEASON_CYCLES[grain] * period:
        return None
    return period


def history_needed(grain: str, given: int | None = None) -> int:
    """Complete periods before a period is scored: `given`, else the grain's default."""
    return given if given is not None else MIN_HISTORY.get(grain, 26)


def _scale(residuals: np.ndarray, level: float) -> float:
    residuals = np.asarray(residuals, dtype=float)
    mad = float(np.median(np.abs(residuals - np.median(residuals)))) if len(residuals) else 0.0
    return max(MAD_FACTOR * mad, 1e-3 * abs(level), 1e-12)


def _log_scale(values: np.ndarray) -> bool:
    """Whether a series is scored on the log scale: never negative, and zero in at most
    `MAX_ZERO_SHARE` of its periods after its first non-zero one (zeros before it are the
    time before the metric started: no payments before the first renewal)."""
    if not np.any(values > 0) or bool(np.any(values < 0)):
        return False
    started = values[int(np.argmax(values > 0)):]
    return int(np.sum(started == 0)) <= MAX_ZERO_SHARE * len(started)


def _damped(diffs: np.ndarray) -> float:
    """The trend per period: the median change of the last `TREND_WINDOW` periods or of the last
    `RECENT_WINDOW`, whichever is nearer zero (none when they disagree in sign). A trend is
    carried forward only as far as both horizons support it: a growth that slows down (a launch
    ramp levelling off) is not extrapolated at its old pace into false drops."""
    if not len(diffs):
        return 0.0
    long, recent = float(np.median(diffs)), float(np.median(diffs[-RECENT_WINDOW:]))
    if long * recent <= 0:
        return 0.0
    return long if abs(long) < abs(recent) else recent


def forecast(history: np.ndarray, grain: str, ahead: int = 1) -> tuple[float, float, str]:
    """(expected value `ahead` periods after the history, scale of the period-over-period changes,
    method) from a history without gaps, on the scale it is given (the scorer calibrates its own
    scale)."""
    y = np.asarray(history, dtype=float)
    n = len(y)
    level = float(np.median(np.abs(y[-TREND_WINDOW:])))
    period = season_length(grain, n)
    if period is not None:
        # Seasonal naive plus trend: a season ago, plus the typical recent season-over-season change.
        diffs = (y[period:] - y[:-period])[-TREND_WINDOW:]
        drift = float(np.median(diffs))
        return float(y[n - period + ahead - 1] + drift), _scale(diffs, level), "seasonal"
    # No seasonal term: the median of the last 3 periods, each carried forward by the drift.
    diffs = np.diff(y)[-TREND_WINDOW:]
    drift = _damped(diffs)
    carried = [y[n - j] + (j + ahead - 1) * drift for j in range(1, min(3, n) + 1)]
    return float(np.median(carried)), _scale(diffs, level), "trend"


def score_series(series: pd.Series, grain: str, min_history: int | None = None,
                 start: dt.date | None = None, sensitivity: float = DEFAULT_SENSITIVITY,
                 zeros: bool = True) -> list[Score]:
    """Score every period of `series` (index: period start dates, complete periods only, in
    order) from `start` on that has at least `min_history` known values before it.
    `sensitivity` decides which periods are kept out of later forecasts (see the module).
    With `zeros`, a rare zero keeps a positive series on the log scale (see `_log_scale`);
    without, any zero puts it on the linear scale (segments, where a zero is more often a
    small number than an outage)."""
    clean_series = series.dropna()
    values = clean_series.to_numpy(dtype=float)
    finite = np.isfinite(values)
    values, index = values[finite], [p for p, ok in zip(clean_series.index, finite) if ok]
    periods = [p.date() if isinstance(p, dt.datetime) else p if isinstance(p, dt.date) else pd.Timestamp(p).date()
               for p in index]
    needed = max(history_needed(grain, min_history), 3)
    log = _log_scale(values) if zeros else bool(len(values)) and bool(np.all(values > 0))
    nonnegative = bool(np.all(values >= 0))
    y = np.log(np.where(values > 0, values, ZERO_AS * values[values > 0].min())) if log else values.copy()
    history = y.copy()  # the history later forecasts see: anomalies replaced by what was expected
    before: np.ndarray | None = None  # after an anomaly: the history as if it had not happened
    shadow = 0  # periods `before` is still kept
    errors: list[float] = []
    replaced: list[tuple[int, float]] = []
    out: list[Score] = []
    for i in range(3, len(y)):
        expected, _spread, method = forecast(history[:i], grain)
        normal = forecast(before[:i], grain)[0] if before is not None else None
        anomalous = back = near_normal = False
        if i >= needed and len(errors) >= MIN_ERRORS:
            level = 1.0 if log else float(np.median(np.abs(history[max(0, i - TREND_WINDOW):i])))
            scale = _scale(np.array(errors[-ERROR_WINDOW:]), level)
            score = (y[i] - expected) / scale
            anomalous = abs(score) >= sensitivity
            off_normal = abs(y[i] - normal) / scale if normal is not None else math.inf
            near_normal = off_normal < sensitivity / 2  # clearly normal: kept in the history before the anomaly
            if anomalous and off_normal < sensitivity:
                # Back at the level from before the anomaly (a four-week campaign ended): the
                # end of that incident, not a new anomaly.
                anomalous, back, expected, score = False, True, normal, (y[i] - normal) / scale
            if anomalous and i - RETURN_LOOKBACK >= 3:
                # A dip or spike of the last periods too small to fire, then the value is back:
                # normal against what was expected before them is a return, not an anomaly.
                earlier = forecast(history[:i - RETURN_LOOKBACK], grain, ahead=RETURN_LOOKBACK + 1)[0]
                moved = (float(np.mean(history[i - RETURN_LOOKBACK:i])) - earlier) / scale
                if abs(y[i] - earlier) / scale < sensitivity / 2 and moved * score < 0 and abs(moved) >= 1:
                    anomalous, expected, score = False, earlier, (y[i] - earlier) / scale
            if start is None or periods[i] >= start:
                out.append(Score(periods[i], float(values[i]), float(math.exp(expected) if log else expected),
                                 scale, float(score), i, method, log, nonnegative))
        errors.append(float(y[i] - expected))  # every error, so the scale is not biased low by leaving out the large ones
        if back:  # later forecasts start from the level before the anomaly again
            history[:i] = before[:i]  # type: ignore[index]
            before, shadow, replaced = None, 0, []
            continue
        if before is not None:
            before[i] = y[i] if near_normal else normal
            shadow -= 1
            if shadow <= 0 and not anomalous:
                before = None
        if anomalous:
            if before is None:
                before = history.copy()
                before[i] = expected
            shadow = SHIFT_MEMORY
        if anomalous and len(replaced) < MAX_REPLACED:
            replaced.append((i, float(y[i])))
            history[i] = expected
            continue
        if anomalous:  # a lasting shift: the replaced periods count as they were
            for j, actual in replaced:
                history[j] = actual
        replaced = []
    return out


def detect(series: pd.Series, grain: str, sensitivity: float = DEFAULT_SENSITIVITY,
           min_history: int | None = None, start: dt.date | None = None) -> list[Score]:
    """The anomalous periods of a series (see the module docstring for the method)."""
    return [s for s in score_series(series, grain, min_history, start, sensitivity) if s.is_anomaly(sensitivity)]


def synthetic_series(periods: int = 156, grain: str = "week", seed: int = 0, level: float = 1000.0,
                     trend: float = 2.0, season: float = 0.15, noise: float = 0.03) -> pd.Series:
    """A stationary seasonal series without anomalies (yearly sine, linear trend, normal noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(periods)
    length = SEASONS.get(grain, 52)
    y = level + trend * t + season * level * np.sin(2 * np.pi * t / length) + rng.normal(0, noise * level, periods)
    step = {"day": 1, "week": 7}.get(grain, 7)
    index = [dt.date(2022, 1, 3) + dt.timedelta(days=int(step * i)) for i in t]
    return pd.Series(y, index=index)


def false_alarm_rate(sensitivity: float = DEFAULT_SENSITIVITY, series: int = 20, periods: int = 156,
                     grain: str = "week", min_history: int | None = None) -> float:
    """Share of scored periods flagged on `series` generated series without anomalies."""
    flagged = scored = 0
    for seed in range(series):
        scores = score_series(synthetic_series(periods, grain, seed), grain, min_history, sensitivity=sensitivity)
        scored += len(scores)
        flagged += sum(s.is_anomaly(sensitivity) for s in scores)
    return flagged / scored if scored else 0.0
