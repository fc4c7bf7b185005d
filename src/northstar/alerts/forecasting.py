"""The forecasts the detector (`alerts.detect`) judges each period against, from the periods
before it only: seasonal naive plus trend, the median of the recent periods carried by a damped
trend, and a small count's recent mean; and the scale of their errors. See `alerts.detect` for
why each exists and when it is used.
"""

from __future__ import annotations

import numpy as np

from northstar.analysis.projection import median, theil_sen

MAD_FACTOR = 1.4826
TREND_WINDOW = 26
RECENT_WINDOW = 13  # the recent horizon of the damped trend (a quarter of weeks)
SEASONS = {"day": 7, "week": 52, "month": 12, "quarter": 4, "year": None}  # year: no season within it, trend only
SEASON_CYCLES = {"day": 2, "week": 2, "month": 3, "quarter": 3, "year": 0}  # full seasons needed before using one
MIN_HISTORY = {"day": 56, "week": 26, "month": 12, "quarter": 8, "year": 5}
MAX_ZERO_SHARE = 0.05  # zeros a positive series may hold and stay on the log scale
COUNT_LEVEL = 8  # periods whose mean is a small count's level
MIN_EVENTS = 0.5  # a small count never expects fewer than this many events per COUNT_LEVEL periods
SEASON_MARGIN = 2.0  # the season is dropped when the recent level forecast this many times better


def season_length(grain: str, n: int) -> int | None:
    """The seasonal period used for a history of `n` periods, or None (trend only)."""
    period = SEASONS.get(grain)
    if period is None or n < SEASON_CYCLES[grain] * period:
        return None
    return period


def history_needed(grain: str, given: int | None = None) -> int:
    """Complete periods before a period is scored: `given`, else the grain's default."""
    return given if given is not None else MIN_HISTORY.get(grain, 26)


def error_scale(residuals: np.ndarray, level: float) -> float:
    """1.4826 x the MAD of the errors, floored at 0.1% of the level. When more than half the
    errors are equal (a share that is 0 but for a few blips), the MAD is 0 and says nothing:
    the mean absolute deviation (x 1.2533, the same for normal errors) says how big the blips are."""
    residuals = np.asarray(residuals, dtype=float)
    if not len(residuals):
        return max(1e-3 * abs(level), 1e-12)
    deviations = np.abs(residuals - median(residuals))
    spread = MAD_FACTOR * median(deviations)
    if spread == 0:
        spread = 1.2533 * float(np.mean(deviations))
    return max(spread, 1e-3 * abs(level), 1e-12)


def log_scale(values: np.ndarray) -> bool:
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
    long, recent = median(diffs), median(diffs[-RECENT_WINDOW:])
    if long * recent <= 0:
        return 0.0
    return long if abs(long) < abs(recent) else recent


def forecast(history: np.ndarray, grain: str, ahead: int = 1,
             template: np.ndarray | None = None) -> tuple[float, float, str]:
    """(expected value `ahead` periods after the history, scale of the period-over-period changes,
    method) from a history without gaps, on the scale it is given (the scorer calibrates its own
    scale). `template`: the history as a season's template, with the periods that were unusual
    when they happened replaced by what was expected (a one-off burst is not expected again a
    year later); default the history itself."""
    y = np.asarray(history, dtype=float)
    n = len(y)
    level = median(np.abs(y[-TREND_WINDOW:]))
    period = season_length(grain, n)
    diffs = np.diff(y)[-TREND_WINDOW:]
    drift = _damped(diffs)
    if period is not None:
        # Seasonal naive plus trend: a season ago, plus the typical recent season-over-season change.
        past = y if template is None else np.asarray(template, dtype=float)
        yearly = (y[period:] - past[:-period])[-TREND_WINDOW:]
        change = median(yearly)
        seasons = -(-ahead // period)  # the same point of a season this many seasons back (ahead > season: several)
        if _seasonal_fits(y, past, period, change, drift) and n - seasons * period + ahead - 1 >= 0:
            return (float(past[n - seasons * period + ahead - 1] + seasons * change), error_scale(yearly, level),
                    "seasonal")
    # No seasonal term: the median of the last 3 periods, each carried forward by the drift.
    carried = [y[n - j] + (j + ahead - 1) * drift for j in range(1, min(3, n) + 1)]
    return median(carried), error_scale(diffs, level), "trend"


def _seasonal_fits(y: np.ndarray, past: np.ndarray, period: int, change: float, drift: float) -> bool:
    """Whether to use the season: unless the recent level (plus the trend) forecast the last
    `TREND_WINDOW` periods `SEASON_MARGIN` times better than the value a season ago (plus the
    typical change) did (the MAD of its errors that much smaller). On a noisy monthly series a
    single value a year ago is a poor guide (a month of 24 comments was expected at 112 because
    the same month a year before had a burst); on a smooth seasonal one the season must stay
    (switching at every flat stretch of the season raised false alarms from 0.34% to 0.42%)."""
    n = len(y)
    t = np.arange(max(period, 3, n - TREND_WINDOW), n)
    if len(t) < 3:
        return True
    seasonal = y[t] - (past[t - period] + change)
    recent = np.median(np.stack([y[t - j] + j * drift for j in (1, 2, 3)]), axis=0)
    trend = y[t] - recent

    def mad(e: np.ndarray) -> float:
        return median(np.abs(e - median(e)))

    return mad(seasonal) <= SEASON_MARGIN * mad(trend)


def count_forecast(history: np.ndarray, ahead: int = 1) -> float:
    """A small count's expected value `ahead` periods on: the mean of its last `COUNT_LEVEL`
    periods, each carried forward by the damped Theil–Sen trend, at least `MIN_EVENTS` per
    `COUNT_LEVEL` periods."""
    x = np.asarray(history, dtype=float)
    n = len(x)
    drift = 0.0
    if n >= 4:
        t = np.arange(n, dtype=float)
        long = theil_sen(t[-TREND_WINDOW:], x[-TREND_WINDOW:])[0]
        recent = theil_sen(t[-RECENT_WINDOW:], x[-RECENT_WINDOW:])[0]
        drift = 0.0 if long * recent <= 0 else (long if abs(long) < abs(recent) else recent)
    k = min(COUNT_LEVEL, n)
    carried = [x[n - j] + (j + ahead - 1) * drift for j in range(1, k + 1)]
    return max(float(np.mean(carried)), MIN_EVENTS / COUNT_LEVEL)
