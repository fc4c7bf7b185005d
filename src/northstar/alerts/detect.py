"""Anomaly detection on a metric's series of complete periods.

Method. The expected value of period t is forecast from the periods *before* t only (so a
backtest sees exactly what a live run would have seen), with medians only (robust), inside
what the metric can be (its `Domain`, from `analysis.domain`: a count or an amount >= 0, a
share in [0, 1]). Three models, chosen once per series:

* `log`: a series that is always positive is modelled on the log scale: a change is judged
  by its relative size, so a product that grows tenfold keeps the same sensitivity. A series
  that is positive but for a rare zero (at most `MAX_ZERO_SHARE` of its periods: an outage,
  a broken pipeline) stays on the log scale, its zeros counted as a tenth of its smallest
  positive value (zeros before the metric started do not count against it): a fall to zero
  is then judged as the extreme it is. A count on this scale is a large one (its typical
  period holds `SMALL_COUNT` or more);
* `count`: a count whose typical period holds fewer than `SMALL_COUNT`, or that is often zero,
  is judged as a count: the expected count is the mean of its last `COUNT_LEVEL` periods
  carried forward by a damped robust trend (Theil–Sen over the last 26 and 13 periods,
  whichever is nearer zero), never below half an event per `COUNT_LEVEL` periods, and a
  value's surprise is its tail probability under a negative binomial around it whose
  variance / mean (the overdispersion, >= 1: Poisson) is measured from the series' own
  forecast errors. Why not the log or linear scale for these: a mean of 2 a month is 0 a
  third of the time, a median of the last 3 periods is then 0 and everything looks like a
  spike, and a flat history (5, 5, 5, 5) gave a zero-width interval;
* `linear`: anything else (a series with zeros, a difference, a share of few entities).

For `log` and `linear`, with enough history for a seasonal term (weekly grain: 2 years,
season 52; day grain: 2 weeks, season 7; month: 3 years, season 12; quarter: 3 years,
season 4), seasonal naive plus trend: the value one season before t plus the median
season-over-season change of the last `TREND_WINDOW` periods; otherwise the median of the
last 3 periods, each carried forward by the median period-over-period change (the trend) of
the last `TREND_WINDOW` periods or of the last `RECENT_WINDOW`, whichever is nearer zero. The
value a season ago is read from a *template* of the history in which every period that was
unusual when it happened (|score| >= `UNUSUAL`, 3) is replaced by what was expected: a one-off
burst that was too small to fire (3.0 on a noisy monthly series) is not expected again a year
later, where its absence then fired (-4.2). Measured on the smooth generated series: 0.31% false
alarms at 4 (0.34% without), 1.83% at 3 (1.75%); daily 0.90% at 3 (0.97%). The season is dropped
when the recent level forecast the last 26 periods `SEASON_MARGIN` times better.

The scale is *calibrated on the method's own past errors*: the MAD (x 1.4826) of the one-step
forecast errors of the last `ERROR_WINDOW` periods, floored at 0.1% of the level and at the
value's counting noise (`alerts.noise`): a count of n is at least sqrt(n)-noisy, a share p of
d entities sqrt(p(1-p)/d), a sum of n rows 1/sqrt(n) of itself (n: the rows expected, the
median of the last 3 periods). The score is (value - expected) / scale; for `count` it is the
normal-equivalent of the tail probability (the z with the same one-sided normal tail), so a
sensitivity means the same rarity for every model. An anomaly is |score| >= sensitivity
(default 4), once the history holds `min_history` complete periods (default by grain: 26
weeks, 56 days, 12 months, 8 quarters) and `MIN_ERRORS` past errors. The incomplete last
period is never scored: callers pass complete periods only. Expected values and intervals
lie in the domain, and an interval always has positive width.

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

False alarms (`alerts.falsealarms`, pinned in tests/test_alerts_detect.py and stated in
docs/guides/alerts.md): on generated weekly series with yearly seasonality, a trend and Gaussian noise and no
anomalies, and on Poisson counts with means of 1 to 20 a period, with and without empty
periods; on the demo (two years, 14 metrics) the backtest counts are in docs/guides/alerts.md.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

# the forecasts and the per-grain SEASONS, SEASON_CYCLES and MIN_HISTORY live in alerts.forecasting
from northstar.alerts.forecasting import (COUNT_LEVEL, MAD_FACTOR, MAX_ZERO_SHARE, MIN_EVENTS,  # noqa: F401
                                          MIN_HISTORY, RECENT_WINDOW, SEASON_CYCLES, SEASON_MARGIN, SEASONS,
                                          TREND_WINDOW, count_forecast, error_scale, forecast, history_needed,
                                          log_scale, season_length)
from northstar.alerts.noise import count_interval, count_score, dispersion_of, share_noise
from northstar.analysis.domain import Domain, observed_domain
from northstar.analysis.projection import median

RETURN_LOOKBACK = 4  # a value back at the level expected before the last periods is no anomaly
ERROR_WINDOW = 26
MIN_ERRORS = 8
MAX_REPLACED = 3
SHIFT_MEMORY = 13  # periods after an anomaly in which a return to the level before it is no anomaly
DEFAULT_SENSITIVITY = 4.0
ZERO_AS = 0.1  # on the log scale a zero counts as this fraction of the smallest positive value
SMALL_COUNT = 20.0  # a count whose typical period holds fewer is judged as a count (model `count`)
MODELS: tuple[str, ...] = ("log", "linear", "count")
UNUSUAL = 3.0  # a period this far from what was expected is no template for the same period next season


@dataclass(frozen=True)
class Score:
    period: dt.date
    value: float
    expected: float
    scale: float  # of the error: on the log scale when `log`; for `count`, sqrt(dispersion x expected)
    score: float
    history: int  # complete periods before this one
    method: str  # "seasonal" | "trend" | "mean" (a small count's recent mean)
    log: bool = False
    nonnegative: bool = False  # a series never below zero: its interval stops at 0
    model: str = ""  # log | linear | count (default: log when `log`, else linear)
    dispersion: float = 1.0  # `count`: variance / mean of the counts model
    lower_bound: float | None = None  # the metric's domain
    upper_bound: float | None = None

    def __post_init__(self) -> None:
        if not self.model:
            object.__setattr__(self, "model", "log" if self.log else "linear")

    def interval(self, sensitivity: float) -> tuple[float, float]:
        """The values that would not fire at `sensitivity`: inside the domain, never a point."""
        if self.model == "count":
            lower, upper = count_interval(self.expected, self.dispersion, sensitivity)
        elif self.log:
            lower = self.expected * math.exp(-sensitivity * self.scale)
            upper = self.expected * math.exp(sensitivity * self.scale)
        else:
            lower, upper = self.expected - sensitivity * self.scale, self.expected + sensitivity * self.scale
        floor = self.lower_bound if self.lower_bound is not None else (0.0 if self.nonnegative else None)
        if floor is not None:
            lower, upper = max(lower, floor), max(upper, floor)
        if self.upper_bound is not None:
            lower, upper = min(lower, self.upper_bound), min(upper, self.upper_bound)
        if not upper > lower:  # only at a bound, with a scale too small to show: a sliver, not a point
            sliver = max(abs(self.expected) * 1e-9, 1e-12)
            if self.upper_bound is not None and upper >= self.upper_bound:
                lower = upper - sliver
            else:
                upper = lower + sliver
        return lower, upper

    def is_anomaly(self, sensitivity: float = DEFAULT_SENSITIVITY) -> bool:
        return abs(self.score) >= sensitivity

    def to_dict(self) -> dict:
        return {"period": self.period.isoformat(), "value": self.value, "expected": self.expected,
                "scale": self.scale, "score": self.score, "history": self.history, "method": self.method,
                "log": self.log, "model": self.model, "dispersion": self.dispersion}


def _model(values: np.ndarray, domain: Domain, zeros: bool, sizes: np.ndarray | None) -> str:
    """Which model scores a series (see the module docstring)."""
    positive = log_scale(values) if zeros else bool(len(values)) and bool(np.all(values > 0))
    positive = positive and domain.nonnegative  # a metric that can be negative has no relative scale
    if domain.kind == "count" and len(values) and bool(np.all(values >= 0)) \
            and bool(np.all(np.abs(values - np.round(values)) < 1e-9)):
        # the level the metric has now (its last TREND_WINDOW periods): a community that shrank
        # to a dozen contributors a month is judged as the small count it has become
        return "log" if positive and median(values[-TREND_WINDOW:]) >= SMALL_COUNT else "count"
    if domain.kind == "share" and sizes is not None:
        ok = np.isfinite(sizes) & (sizes > 0)
        if ok.any():
            successes = sizes[ok] * np.minimum(values[ok], 1 - values[ok])
            if median(successes) < SMALL_COUNT:
                return "linear"  # a share of few: zeros and ones are noise, not outages
    return "log" if positive else "linear"


def _day(p: object) -> dt.date:
    return p.date() if isinstance(p, dt.datetime) else p if isinstance(p, dt.date) else pd.Timestamp(p).date()


def _aligned(sizes: pd.Series | None, periods: list[dt.date]) -> np.ndarray | None:
    """`sizes` at `periods` (NaN where unknown)."""
    if sizes is None:
        return None
    lookup = {_day(p): float(v) for p, v in sizes.items() if v is not None and v == v}
    return np.array([lookup.get(p, np.nan) for p in periods], dtype=float)


def _noise(model: str, domain: Domain, expected: float, sizes: np.ndarray | None, i: int) -> float:
    """The counting noise of period i's value around `expected`, on the model's scale: a count's
    Poisson noise; with sizes, a share's binomial noise over its denominator, a sum's 1/sqrt(n)
    of itself and an average's standard error over the rows expected (the median of the 3
    periods before: an outage's empty period must not make itself noisy)."""
    if domain.kind == "count" and model == "log":
        return 1.0 / math.sqrt(max(expected, 1.0))
    if domain.kind == "count":
        return math.sqrt(max(expected, MIN_EVENTS))
    if sizes is None or domain.size is None:
        return 0.0
    kind = domain.size.kind
    if kind == "denominator":
        size = sizes[i]
        if not (math.isfinite(size) and size > 0):
            return 0.0
        noise = share_noise(expected, size)
        return noise / max(expected, 0.5 / (size + 1)) if model == "log" else noise
    before = sizes[max(0, i - 3):i]
    before = before[np.isfinite(before)]
    if not len(before):
        return 0.0
    typical = median(before)
    if kind == "rows":
        if typical <= 0:
            return 0.0
        return 1.0 / math.sqrt(typical) if model == "log" else abs(expected) / math.sqrt(typical)
    spread = math.sqrt(max(typical, 0.0))  # `spread`: the variance of the average
    return spread / abs(expected) if model == "log" and expected else spread


def score_series(series: pd.Series, grain: str, min_history: int | None = None,
                 start: dt.date | None = None, sensitivity: float = DEFAULT_SENSITIVITY,
                 zeros: bool = True, domain: Domain | None = None, sizes: pd.Series | None = None) -> list[Score]:
    """Score every period of `series` (index: period start dates, complete periods only, in
    order) from `start` on that has at least `min_history` known values before it.
    `sensitivity` decides which periods are kept out of later forecasts (see the module).
    With `zeros`, a rare zero keeps a positive series on the log scale (see `forecasting.log_scale`);
    without, any zero puts it on the linear scale (segments, where a zero is more often a
    small number than an outage). `domain`: what the metric can be (default: >= 0 when no
    value is negative, else any number); `sizes`: per period, what its counting noise is
    counted over (a share's denominator, the rows of a sum)."""
    clean_series = series.dropna()
    values = clean_series.to_numpy(dtype=float)
    finite = np.isfinite(values)
    values, index = values[finite], [p for p, ok in zip(clean_series.index, finite) if ok]
    periods = [_day(p) for p in index]
    domain = domain or observed_domain(values)
    size = _aligned(sizes, periods)
    model = _model(values, domain, zeros, size)
    log = model == "log"
    nonnegative = domain.nonnegative
    y = np.log(np.where(values > 0, values, ZERO_AS * values[values > 0].min())) if log else values.copy()
    # the domain on the model's scale: forecasts are kept inside it
    low = -math.inf if log or domain.lower is None else domain.lower
    high = math.inf if domain.upper is None else (math.log(domain.upper) if log and domain.upper > 0 else domain.upper)

    def predict(history: np.ndarray, ahead: int = 1) -> tuple[float, str]:
        if model == "count":
            return min(count_forecast(history, ahead), high), "mean"
        expected, _spread, method = forecast(history, grain, ahead, template[:len(history)])
        return min(max(expected, low), high), method

    needed = max(history_needed(grain, min_history), 3)
    history = y.copy()  # the history later forecasts see: anomalies replaced by what was expected
    template = y.copy()  # the history as next season's template: unusual periods replaced too
    before: np.ndarray | None = None  # after an anomaly: the history as if it had not happened
    shadow = 0  # periods `before` is still kept
    errors: list[float] = []
    means: list[float] = []  # `count`: the expected value of each error
    replaced: list[tuple[int, float]] = []
    out: list[Score] = []
    for i in range(3, len(y)):
        expected, method = predict(history[:i])
        normal = predict(before[:i])[0] if before is not None else None
        anomalous = back = near_normal = unusual = False
        if i >= needed and len(errors) >= MIN_ERRORS:
            dispersion = dispersion_of(np.array(errors[-ERROR_WINDOW:]), np.array(means[-ERROR_WINDOW:])) \
                if model == "count" else 1.0
            natural = math.exp(expected) if log else expected
            noise = _noise(model, domain, natural, size, i)
            if model == "count":
                scale = math.sqrt(dispersion * max(expected, noise * noise))
            else:
                level = 1.0 if log else median(np.abs(history[max(0, i - TREND_WINDOW):i]))
                scale = max(error_scale(np.array(errors[-ERROR_WINDOW:]), level), noise)

            def surprise(center: float) -> float:
                if model == "count":
                    return count_score(float(y[i]), center, dispersion)
                return (y[i] - center) / scale

            score = surprise(expected)
            anomalous = abs(score) >= sensitivity
            unusual = abs(score) >= UNUSUAL
            off_normal = abs(surprise(normal)) if normal is not None else math.inf
            near_normal = off_normal < sensitivity / 2  # clearly normal: kept in the history before the anomaly
            if anomalous and off_normal < sensitivity:
                # Back at the level from before the anomaly (a four-week campaign ended): the
                # end of that incident, not a new anomaly.
                anomalous, back, expected, score = False, True, normal, surprise(normal)  # type: ignore[arg-type]
            if anomalous and i - RETURN_LOOKBACK >= 3:
                # A dip or spike of the last periods too small to fire, then the value is back:
                # normal against what was expected before them is a return, not an anomaly.
                earlier = predict(history[:i - RETURN_LOOKBACK], RETURN_LOOKBACK + 1)[0]
                moved = (float(np.mean(history[i - RETURN_LOOKBACK:i])) - earlier) / scale
                if abs(surprise(earlier)) < sensitivity / 2 and moved * score < 0 and abs(moved) >= 1:
                    anomalous, expected, score = False, earlier, surprise(earlier)
            if start is None or periods[i] >= start:
                out.append(Score(periods[i], float(values[i]), float(math.exp(expected) if log else expected),
                                 scale, float(score), i, method, log, nonnegative, model, dispersion,
                                 domain.lower, domain.upper))
        if unusual or anomalous:
            template[i] = expected
        errors.append(float(y[i] - expected))  # every error, so the scale is not biased low by leaving out the large ones
        means.append(float(expected))
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
           min_history: int | None = None, start: dt.date | None = None, domain: Domain | None = None,
           sizes: pd.Series | None = None) -> list[Score]:
    """The anomalous periods of a series (see the module docstring for the method)."""
    return [s for s in score_series(series, grain, min_history, start, sensitivity, domain=domain, sizes=sizes)
            if s.is_anomaly(sensitivity)]


def __getattr__(name: str):  # noqa: ANN202 - the generators moved to alerts.falsealarms
    if name in ("synthetic_series", "false_alarm_rate"):
        from northstar.alerts import falsealarms

        return getattr(falsealarms, name)
    raise AttributeError(name)
