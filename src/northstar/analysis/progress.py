"""Progress against targets: the target that applies to a period, "% of target" and its band.

Pure functions of the spec's targets (`spec/targets.py`); no engine.

- **The target of a period** (at the North Star's grain, the grain the tree is computed at):
  - `{value, by}`: `value`; with `from`, the straight line from the baseline (`baseline`, else
    the metric's value in the period of `from`, which the caller reads from the data) in the
    period of `from` to `value` in the period of `by` (periods counted at the grain), `value`
    from the period of `by` on, and no target before the period of `from` (nor without a
    baseline value).
  - a series at the same grain: the period's own target (none for a period it does not name).
  - a coarser series (a target per month or quarter for a weekly tree), read day by day: for an
    additive metric (a count or a sum, not cumulative) each day of a coarse period carries
    its share `target / days`, and the period's target is the sum over its days (a quarter
    target of 900 gives a 31-day month 900 × 31/90); for any other metric (a ratio, an average,
    a distinct count, a formula) each day carries the coarse target, and the period's target is
    the mean over its days (a week across two months weighs each month's target by its days).
    A period with a day no series period covers has no target. Fractions are exact until the
    result is rounded to a float once.
- **% of target**: `value / target` for a metric where higher is better; for one where lower
  is better (`direction: down`), `target / value`, so that reaching the target or better is
  100 % or more either way. None when it is undefined: a target that is not positive (up), or
  a value that is not positive or a negative target (down), or a ratio beyond a float.
- **Band**: green from `target_bands.green` % (default 100), amber from `target_bands.amber` %
  (default 90), red below; compared exactly (as fractions).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from northstar.spec.model import AggregateMetric, Spec, Target, TargetBands, TargetSeries
from northstar.spec.targets import first_day, next_start

__all__ = ["Progress", "band", "baseline_periods", "final_target", "has_metric_targets", "target_period", "is_additive", "metric_target", "progress", "progress_of",
           "target_at"]


def _index(day: dt.date, grain: str) -> int:
    """Grows by one per period of `grain`."""
    if grain == "day":
        return day.toordinal()
    if grain == "week":
        return (day.toordinal() - day.weekday()) // 7
    months = day.year * 12 + day.month - 1
    return {"month": months, "quarter": months // 3, "year": day.year}[grain]


def is_additive(spec: Spec, name: str) -> bool:
    """A count or a sum that is not cumulative: its value over a quarter is the sum of its months."""
    metric = spec.metrics.get(name)
    return isinstance(metric, AggregateMetric) and metric.agg in ("count", "sum") and not metric.cumulative


def metric_target(spec: Spec, name: str) -> Target | TargetSeries | None:
    """The target set for a metric: `north_star.target` for the North Star, else its own."""
    if name == spec.north_star.metric and spec.north_star.target is not None:
        return spec.north_star.target
    return getattr(spec.metrics.get(name), "target", None)


def has_metric_targets(spec: Spec) -> bool:
    """Whether any metric has a target of its own or the North Star's is a series: then the tree,
    overview and metric pages show "% of target" (a spec with neither shows what it always did)."""
    return (isinstance(spec.north_star.target, TargetSeries)
            or any(getattr(m, "target", None) is not None for m in spec.metrics.values()))


def target_at(target: Target | TargetSeries | None, period: dt.date, grain: str, additive: bool,
              baseline: float | None = None) -> float | None:
    """The target that applies to the period of `grain` starting on `period` (see the module);
    `baseline`: the metric's value in the period of `from` when the target gives none."""
    if target is None:
        return None
    if isinstance(target, Target):
        if target.from_ is None:
            return float(target.value)
        start, end, at = (_index(d, grain) for d in (target.from_, target.by, period))
        if at < start:
            return None
        if at >= end:
            return float(target.value)
        first = target.baseline if target.baseline is not None else baseline
        if first is None or not math.isfinite(first):
            return None
        base = Fraction(first)
        return float(base + (Fraction(target.value) - base) * Fraction(at - start, end - start))
    coarse = target.period_grain
    own = dict(target.periods())
    if coarse == grain:
        value = own.get(period)
        return None if value is None else float(value)
    first, after = period, next_start(period, grain)
    total, day = Fraction(0), first
    while day < after:
        start = first_day(day, coarse)
        stop = min(next_start(start, coarse), after)
        if start not in own:
            return None
        days = (stop - day).days
        value = Fraction(own[start])
        total += value * days / (next_start(start, coarse) - start).days if additive else value * days
        day = stop
    return float(total if additive else total / (after - first).days)


def target_period(start: dt.date, coarse: str, grain: str) -> dt.date:
    """The period of `grain` a target of the `coarse` period starting on `start` is pushed to: the
    last one wholly inside it (the last whole week of a month), else the one holding its last day."""
    end = next_start(start, coarse)
    period = first_day(end - dt.timedelta(days=1), grain)
    earlier = first_day(period - dt.timedelta(days=1), grain)
    return earlier if next_start(period, grain) > end and earlier >= start else period


def final_target(spec: Spec) -> tuple[float, dt.date] | None:
    """The North Star's target as one value by one date, at the North Star's grain: `{value, by}`
    as given; a series' last period pushed to its `target_period` (its share of a monthly target
    of a sum for a weekly North Star), by that period's last day. What reads a single target
    (the monitor's target alert, the report's target line) reads this."""
    ns = spec.north_star
    target = ns.target
    if target is None:
        return None
    if isinstance(target, Target):
        return float(target.value), target.by
    period = target_period(target.periods()[-1][0], target.period_grain, ns.grain)
    value = target_at(target, period, ns.grain, is_additive(spec, ns.metric))
    return None if value is None else (value, next_start(period, ns.grain) - dt.timedelta(days=1))


def progress(value: float | None, target: float | None, direction: str = "up") -> float | None:
    """% of target as a fraction (1.0 is 100 %): value/target, or target/value when lower is better."""
    if value is None or target is None:
        return None
    if direction == "down":
        share = target / value if value > 0 and target >= 0 else None
    else:
        share = value / target if target > 0 else None
    return share if share is not None and math.isfinite(share) else None


def band(share: float | None, bands: TargetBands) -> str | None:
    """green, amber or red for a progress fraction (None for none)."""
    if share is None:
        return None
    percent = Fraction(share) * 100
    if percent >= Fraction(bands.green):
        return "green"
    return "amber" if percent >= Fraction(bands.amber) else "red"


@dataclass(frozen=True)
class Progress:
    target: float | None
    progress: float | None
    band: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "progress": self.progress, "band": self.band}


def baseline_periods(spec: Spec) -> dict[str, dt.date]:
    """{metric: the date whose period's value is the start of its target line} for the targets
    with `from` and no `baseline`: the caller reads those values from the data."""
    out = {}
    for name in spec.metrics:
        target = metric_target(spec, name)
        if isinstance(target, Target) and target.from_ is not None and target.baseline is None:
            out[name] = target.from_
    return out


def progress_of(spec: Spec, name: str, value: float | None, period: dt.date, grain: str | None = None,
                baseline: float | None = None) -> Progress:
    """A metric's target in a period (at `grain`, default the North Star's), its % and band."""
    goal = target_at(metric_target(spec, name), period, grain or spec.north_star.grain, is_additive(spec, name),
                     baseline)
    metric = spec.metrics.get(name)
    share = progress(value, goal, getattr(metric, "direction", "up"))
    return Progress(goal, share, band(share, spec.target_bands))
