"""Trends and growth paths: trends projected ahead (`analysis.projection`), growth per period."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from northstar.analysis.domain import Domain
from northstar.analysis.projection import project


# ---- numbers ------------------------------------------------------------------------------------

def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Trend:
    """A fitted trend: its value `ahead` periods after the last one, and its growth per period."""

    value: float | None
    growth: float | None  # per period, relative to the fitted value of the last period
    kind: str  # the projection's scale: log | sqrt | logit | linear, or flat (one value) | none
    points: int
    method: str = ""  # in words: "trend of the last 26 weeks"
    clipped: bool = False  # the line left the metric's domain: the value is at its bound


def fit_trend(values: Sequence[Any], ahead: int, domain: Domain | None = None, grain: str = "week") -> Trend:
    """The trend of `values` (oldest first, one per period), `ahead` periods on, by the one
    projection method of `analysis.projection` (a Theil–Sen line on the scale the metric's
    domain suits, kept inside the domain) over all of `values`: the caller passes the window.
    Missing values keep their position and are left out of the fit; one known value is a flat
    trend."""
    p = project(values, ahead, grain, domain, window=len(values))
    return Trend(p.value, p.growth, p.scale, p.points, p.method, p.clipped)


def growth_per_period(current: float | None, required: float | None, periods: int) -> float | None:
    """`(required / current) ** (1 / periods) - 1`; None unless both are positive."""
    if current is None or required is None or periods < 1 or current <= 0 or required <= 0:
        return None
    return float(math.expm1(math.log(required / current) / periods))


def value_on_path(current: float | None, required: float | None, periods: int, at: int) -> float | None:
    """The value `at` periods on along the path from `current` to `required` in `periods`:
    constant growth when both are positive, a straight line otherwise."""
    if current is None or required is None or periods < 1:
        return None
    share = at / periods
    if current > 0 and required > 0:
        return float(current * (required / current) ** share)
    return float(current + (required - current) * share)
