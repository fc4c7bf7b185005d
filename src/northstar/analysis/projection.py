"""One way to project a metric's series to a later period, shared by `targets`, the monitor's
focus and target alerts, and the dashboard's forecast band, so that they never disagree.

Method: a robust straight-line trend (Theil–Sen: the median of the slopes between every two
periods, the intercept the median of what is left) through the last `TREND_PERIODS` complete
periods (26 weeks, 12 months, 90 days, 8 quarters; fewer when the data is shorter), on the
scale that suits what the metric can be (`analysis.domain`), carried to the period asked,
and kept inside the metric's domain:

* a count or an amount that is positive throughout the window: the logarithm (a constant
  growth per period); a count whose typical period holds fewer than `SMALL_COUNT` (or that has
  zeros): its square root (Anscombe's 2·sqrt(x + 3/8), where counting noise is the same at
  every level, so a few busy periods of a sparse series do not tilt the line);
* a share strictly between 0 and 1 throughout: its logit (it approaches 0% or 100% but never
  crosses them);
* otherwise the values themselves; then clipped to the domain (`clipped` says so: a line
  that heads below zero projects 0, not -6,073).

Why Theil–Sen rather than least squares (what `targets` used) or the median change of the
last 13 periods (what the monitor used; the two disagreed, 488 vs 1,024 on one target): it is
as exact as least squares on a clean trend and nearly as efficient on noisy ones, but one
dominant period (a spike, a closure, a bulk import) cannot tilt it (it ignores up to 29% of
the periods being wild), and, unlike a median of period-over-period changes, it does not
carry the last period's noise to the target date.

The band (`band`) is the line's prediction interval at `level` (80%): the residuals' robust
spread (1.4826 x MAD) on the projection's scale, widened with the horizon as a least-squares
interval would be (`sqrt(1 + 1/n + (t - mean t)^2 / Sxx)`), never narrower than the counting
noise of the projected value (a count of n: sqrt(n)), back on the metric's scale and clipped
to its domain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from northstar.analysis.domain import Domain, observed_domain

TREND_PERIODS: dict[str, int] = {"day": 90, "week": 26, "month": 12, "quarter": 8, "year": 5}
SMALL_COUNT = 20.0  # a count whose typical period holds fewer is projected on the square-root scale
LEVEL = 0.80
SCALES: tuple[str, ...] = ("log", "sqrt", "logit", "linear")


def number(value: Any) -> float | None:
    """A finite float, or None (None, NaN, text, infinity)."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def median(values: np.ndarray) -> float:
    """The median of a 1-d float array without NaN (np.median's checks cost more than the
    sort on the short windows the detector takes thousands of medians of)."""
    ordered = np.sort(values)
    n = len(ordered)
    if not n:
        return math.nan
    half = n // 2
    return float(ordered[half]) if n % 2 else 0.5 * float(ordered[half - 1] + ordered[half])


@lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


def theil_sen(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of the Theil–Sen line: the median of the pairwise slopes, and the
    median of y - slope·x. Needs two distinct x."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = _pairs(len(xs))
    dx = xs[j] - xs[i]
    ok = dx != 0
    slope = median((ys[j] - ys[i])[ok] / dx[ok]) if ok.any() else 0.0
    return slope, median(ys - slope * xs)


# ---- scales ---------------------------------------------------------------------------------------

def scale_for(values: Sequence[float], domain: Domain) -> str:
    """The scale a series is projected on (see the module docstring)."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return "linear"
    if domain.kind == "share" and bool(np.all((v > 0) & (v < 1))):
        return "logit"
    if domain.kind == "count" and (float(np.median(v)) < SMALL_COUNT or bool(np.any(v <= 0))):
        return "sqrt" if bool(np.all(v >= 0)) else "linear"
    if domain.kind in ("count", "amount") and bool(np.all(v > 0)):
        return "log"
    return "linear"


def forward(values: np.ndarray, scale: str) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if scale == "log":
        return np.log(v)
    if scale == "sqrt":
        return 2.0 * np.sqrt(np.maximum(v, 0.0) + 0.375)
    if scale == "logit":
        return np.log(v / (1.0 - v))
    return v


def back(y: float, scale: str) -> float:
    if scale == "log":
        return math.exp(min(y, 700.0))
    if scale == "sqrt":  # below the square root of 3/8 the line has left the counts: negative, clipped later
        return (max(y, 0.0) / 2.0) ** 2 - 0.375
    if scale == "logit":
        return 1.0 / (1.0 + math.exp(-max(min(y, 700.0), -700.0)))
    return y


# ---- the projection ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """A series carried `ahead` periods past its last one."""

    value: float | None
    ahead: float
    scale: str  # log | sqrt | logit | linear | flat (one value) | none (no value)
    points: int  # known values the trend was read from
    window: int  # periods the trend was read from (known or not)
    grain: str
    slope: float | None = None  # per period, on `scale`
    growth: float | None = None  # per period, relative to the fitted value of the last period
    clipped: bool = False  # the line left the metric's domain: the value is at its bound

    @property
    def method(self) -> str:
        """The method in words, for every caller to say what it projected with."""
        if self.scale == "none":
            return "no projection: no values"
        if self.scale == "flat":
            return f"the last value (one {self.grain} of data)"
        unit = self.grain + ("s" if self.window != 1 else "")
        return f"trend of the last {self.window} {unit}" + (", kept at the metric's bound" if self.clipped else "")

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ahead": self.ahead, "scale": self.scale, "points": self.points,
                "window": self.window, "growth": self.growth, "clipped": self.clipped, "method": self.method}


@dataclass(frozen=True)
class _Fit:
    scale: str
    slope: float
    intercept: float
    x: np.ndarray
    y: np.ndarray  # on `scale`
    now: float  # x of the last period


def _fit(values: Sequence[Any], domain: Domain) -> tuple[_Fit | None, list[tuple[int, float]]]:
    points = [(i, v) for i, v in enumerate(number(x) for x in values) if v is not None]
    if len(points) < 2:
        return None, points
    x = np.array([p[0] for p in points], dtype=float)
    raw = np.array([p[1] for p in points], dtype=float)
    scale = scale_for(raw, domain)
    y = forward(raw, scale)
    slope, intercept = theil_sen(x, y)
    return _Fit(scale, slope, intercept, x, y, float(len(values) - 1)), points


def project(values: Sequence[Any], ahead: float, grain: str, domain: Domain | None = None,
            window: int | None = None) -> Projection:
    """`values` (oldest first, one per period, missing as None/NaN keeping their place) carried
    `ahead` periods past the last one, from the last `window` (default `TREND_PERIODS[grain]`)."""
    size = window if window is not None else TREND_PERIODS.get(grain, 26)
    recent = list(values)[-size:] if size > 0 else list(values)
    known = [v for v in (number(x) for x in recent) if v is not None]
    domain = domain or observed_domain(known)
    fit, points = _fit(recent, domain)
    if fit is None:
        if not points:
            return Projection(None, ahead, "none", 0, len(recent), grain)
        return Projection(domain.clip(points[0][1]), ahead, "flat", 1, len(recent), grain, 0.0, 0.0)
    at = fit.now + ahead
    line = back(fit.intercept + fit.slope * at, fit.scale)
    value = domain.clip(line)
    clipped = value != line and not math.isclose(value, line, rel_tol=1e-12, abs_tol=1e-12)
    if fit.scale == "log":
        growth: float | None = math.expm1(fit.slope)
    else:
        here = back(fit.intercept + fit.slope * fit.now, fit.scale)
        step = back(fit.intercept + fit.slope * (fit.now + 1), fit.scale)
        growth = (step - here) / abs(here) if here else None
    return Projection(value, ahead, fit.scale, len(points), len(recent), grain, fit.slope, growth, clipped)


def band(values: Sequence[Any], horizon: int, grain: str, domain: Domain | None = None,
         level: float = LEVEL, window: int | None = None) -> list[tuple[float, float, float]]:
    """`(value, lower, upper)` for each of the `horizon` periods after the last: the projection
    and its prediction interval at `level` (see the module docstring). Empty with fewer than 3
    known values."""
    size = window if window is not None else TREND_PERIODS.get(grain, 26)
    recent = list(values)[-size:]
    known = [v for v in (number(x) for x in recent) if v is not None]
    domain = domain or observed_domain(known)
    fit, points = _fit(recent, domain)
    if fit is None or len(points) < 3:
        return []
    n = len(fit.x)
    residuals = fit.y - (fit.intercept + fit.slope * fit.x)
    spread = 1.4826 * median(np.abs(residuals - median(residuals)))
    x_mean = float(np.mean(fit.x))
    sxx = float(np.sum((fit.x - x_mean) ** 2)) or 1.0
    from scipy import stats  # 0.4 s to import: only when an interval is drawn

    quantile = float(stats.t.ppf(0.5 + level / 2, max(n - 2, 1)))
    out = []
    for step in range(1, horizon + 1):
        x = fit.now + step
        centre = fit.intercept + fit.slope * x
        value = domain.clip(back(centre, fit.scale))
        widen = math.sqrt(1 + 1 / n + (x - x_mean) ** 2 / sxx)
        half = quantile * max(spread, _noise(value, fit.scale, domain)) * widen
        lower = domain.clip(back(centre - half, fit.scale))
        upper = domain.clip(back(centre + half, fit.scale))
        lower, upper = min(lower, value), max(upper, value)
        if not upper > lower:  # a band is never a line: a sliver, on the side the domain allows
            sliver = max(abs(value) * 1e-6, 1e-9)
            if domain.upper is not None and upper >= domain.upper:
                lower = upper - sliver
            else:
                upper = lower + sliver
        out.append((value, lower, upper))
    return out


def _noise(value: float, scale: str, domain: Domain) -> float:
    """The counting noise of a projected count on the projection's scale (1 on the square-root
    scale, 1/sqrt(n) on the log scale, sqrt(n) on the values); 0 for other metrics."""
    if domain.kind != "count":
        return 0.0
    n = max(value, 1.0)
    return {"sqrt": 1.0, "log": 1.0 / math.sqrt(n), "logit": 0.0}.get(scale, math.sqrt(n))
