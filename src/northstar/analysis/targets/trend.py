"""Trends and growth paths: least-squares trends projected ahead, growth per period."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


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
    growth: float | None  # per period (log fit: exp(slope) - 1; linear fit: slope / |fitted now|)
    kind: str  # log | linear | flat | none
    points: int


def fit_trend(values: Sequence[Any], ahead: int) -> Trend:
    """Least-squares trend over `values` (oldest first, one per period), `ahead` periods on.

    Log-linear when every known value is positive, linear otherwise; one known value is a
    flat trend; missing values keep their position and are left out of the fit.
    """
    points = [(i, v) for i, v in enumerate(_num(x) for x in values) if v is not None]
    if not points:
        return Trend(None, None, "none", 0)
    if len(points) == 1:
        return Trend(points[0][1], 0.0, "flat", 1)
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    at = float(len(values) - 1 + ahead)
    now = float(len(values) - 1)
    if (y > 0).all():
        slope, intercept = np.polyfit(x, np.log(y), 1)
        return Trend(float(math.exp(intercept + slope * at)), float(math.expm1(slope)), "log", len(points))
    slope, intercept = np.polyfit(x, y, 1)
    fitted_now = intercept + slope * now
    growth = float(slope / abs(fitted_now)) if fitted_now else None
    return Trend(float(intercept + slope * at), growth, "linear", len(points))


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
