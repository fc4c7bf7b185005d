"""Step 5's proposal: the grain at which the proposed North Star shows a real change soonest.

The candidate is computed from the profiled table at day, week and month (every period from
the first to the last event, empty ones 0, as the engine fills them), and the grains are
compared with the same signal-to-noise measure `northstar check` uses (`grain-noisy`,
analysis/signal.py). Sparse data (a few contributors a month, empty weeks) is noisy per week
and gets `month`; dense data gets `week` or `day`. A day grain dominated by the day of the
week is not proposed (weekends would read as drops). Quarters are too slow to steer by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from northstar.analysis.signal import GrainSignal, best_grain, grain_signal, long_enough
from northstar.discover.profile import DataProfile
from northstar.engine.compile import aggregate_value
from northstar.engine.time import period_of, period_range, to_date
from northstar.spec.model import AggregateMetric

GRAINS = ("day", "week", "month")
DEFAULT_GRAIN = "week"  # the method's usual frequency, when the data is too short to judge
SPARSE_GRAIN = "month"  # when no grain is dense enough to read
MAX_SEASONAL_SHARE = 0.5
MIN_TYPICAL = 5  # a typical period (the median) needs this much to read as a level, not luck
MAX_EMPTY = 0.1  # and at most this share of the periods may be empty


@dataclass(frozen=True)
class GrainFit:
    """The candidate at one grain: how dense it is, and its signal-to-noise (None: too few periods)."""

    grain: str
    periods: int
    median: float
    empty: float
    signal: GrainSignal | None

    @property
    def dense(self) -> bool:
        return self.median >= MIN_TYPICAL and self.empty <= MAX_EMPTY

    def line(self) -> str:
        typical = f"{self.median:,.0f}" if abs(self.median) >= 100 else f"{self.median:.3g}"
        text = (f"{self.grain}: {self.periods:,} period{'s' if self.periods != 1 else ''}, typically {typical}, "
                f"{self.empty:.0%} empty")
        s = self.signal
        if s is not None:
            weekday = f", {s.seasonal_share:.0%} of it the day of the week" if s.seasonal_share is not None else ""
            days = "" if self.grain == "day" else f" ({s.days_to_see:,.0f} days)"
            text += (f"; noise {s.noise:.0%}{weekday}: a lasting 5% change shows after {s.periods_to_see:,} "
                     f"{self.grain}{'s' if s.periods_to_see != 1 else ''}{days}")
        return text + ("" if self.dense else " (too sparse to read)")


@dataclass(frozen=True)
class GrainChoice:
    grain: str
    fits: tuple[GrainFit, ...]
    reason: str

    def lines(self) -> list[str]:
        """What the data says about each grain (shown beside step 5)."""
        return [fit.line() for fit in self.fits] + [f"proposed: {self.grain} ({self.reason})"]


def _instant(table: ir.Table, profile: DataProfile) -> Any:
    """The event time as a timestamp (UTC): epoch numbers converted, text parsed."""
    column = table[profile.timestamp]
    if profile.time_unit:
        return column.cast("int64").as_timestamp(profile.time_unit)
    dtype = column.type()
    if dtype.is_string() or dtype.is_date():
        return column.try_cast("timestamp") if dtype.is_string() else column.cast("timestamp")
    return column


def candidate_series(profile: DataProfile, body: dict[str, Any], grain: str) -> pd.Series | None:
    """An aggregate candidate per period of `grain`, gaps filled with 0; None when it cannot run."""
    table = profile.extra.get("table")
    if table is None or profile.timestamp is None or body.get("type", "aggregate") != "aggregate" \
            or "formula" in body:
        return None
    try:
        metric = AggregateMetric(**{k: v for k, v in body.items() if k in AggregateMetric.model_fields})
        instant = _instant(table, profile)
        rows = table.mutate(__period=period_of(instant, grain)).filter(ibis._["__period"].notnull())
        frame = rows.group_by("__period").aggregate(value=aggregate_value(rows, metric, profile.entity)).execute()
    except Exception:  # a candidate the profile's table cannot compute: no proposal from data
        return None
    if frame.empty:
        return None
    values = {to_date(p): float(v) if v == v and v is not None else 0.0 for p, v in zip(frame["__period"], frame["value"])}
    periods = period_range(min(values), max(values), grain)
    return pd.Series([values.get(p, 0.0) for p in periods], index=pd.to_datetime(periods), dtype=float)


def propose_grain(profile: DataProfile, body: dict[str, Any] | None) -> GrainChoice:
    """Among the grains dense enough to read (a typical period of at least MIN_TYPICAL, at most
    MAX_EMPTY of them empty), the one with the fewest days to see a lasting 5% change of the
    candidate; `month` when none is dense enough, `week` when the data is too short to judge."""
    fits = []
    for grain in GRAINS:
        series = candidate_series(profile, body, grain) if body else None
        if series is None or series.empty:
            continue
        fits.append(GrainFit(grain, len(series), float(series.median()), float((series == 0).mean()),
                             grain_signal(series, grain)))
    if not fits:
        return GrainChoice(DEFAULT_GRAIN, (), "the usual frequency; the proposed North Star could not be computed")
    dense = [f for f in fits if f.dense]
    judged = [f.signal for f in dense if f.signal is not None
              and (f.signal.seasonal_share is None or f.signal.seasonal_share <= MAX_SEASONAL_SHARE)]
    best = best_grain(judged)
    if best is not None:
        return GrainChoice(best.grain, tuple(fits), "of the grains dense enough to read, the one that shows a real "
                           "change soonest")
    if not dense and any(long_enough(f.periods, f.grain) for f in fits):
        return GrainChoice(SPARSE_GRAIN, tuple(fits), "the data is sparse: no finer grain has a typical period of "
                           f"{MIN_TYPICAL} or more with few empty ones")
    return GrainChoice(DEFAULT_GRAIN, tuple(fits), "the usual frequency; too few periods to compare grains")
