"""Reachable levels of a funnel stage, and whether they beat the level now beyond noise.

A stage's *reachable level* is the better of its own best final value over the last `RECENT`
periods (given: complete, final, with North Star activity) and, for rates, its best segment's
rate (segments holding at least `MIN_SEGMENT_SHARE` of the stage and `MIN_SEGMENT_SIZE` of its
denominator). `noise_p` is the chance that such a level beats the value now by counting noise
alone (see `explain/noise.py`): the population behind a share is found through the engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from northstar.engine.time import shift_period, to_date
from northstar.explain.noise import count_p, share_p
from northstar.explain.segments import dimensions_of, form_of
from northstar.numbers import number_or_none as _f
from northstar.spec.model import AggregateMetric, ConversionMetric, RetentionMetric, Spec

RECENT = 12
MIN_SEGMENT_SHARE = 0.05
MIN_SEGMENT_SIZE = 30  # a segment's rate over fewer (entities, rows) is noise, not a level others reach


def _better(spec: Spec, metric: str, a: float, b: float) -> bool:
    return a > b if spec.metrics[metric].direction == "up" else a < b


@dataclass(frozen=True)
class Level:
    """A reachable level: its value, where it was reached, and the population behind it."""

    value: float
    source: str
    period: dt.date | None = None  # a best recent period
    population: float | None = None  # a best segment's denominator


def reachable_level(project: Any, spec: Spec, metric: str, history: Any, current: dt.date) -> Level | None:
    window = history.iloc[-RECENT:]
    # a period with no North Star activity at all (a closure) is no level to reach
    recent = [(p, v) for p, v, n in zip(window.index, (_f(x) for x in window[metric]),
                                         (_f(x) for x in window[spec.north_star.metric])) if v is not None and n]
    if not recent:
        return None
    up = spec.metrics[metric].direction == "up"
    period, value = (max if up else min)(recent, key=lambda item: item[1])
    best = Level(value, f"best of the last {len(recent)} {spec.north_star.grain}s", period)
    form, _probes = form_of(spec, metric)
    if form is not None and form.denominator is not None:  # a rate: its best segment is a level others reach
        for dim in dimensions_of(spec, metric):
            frame = project.query([metric, form.denominator], grain=spec.north_star.grain, by=[dim], start=current,
                                  end=current)
            total = frame[form.denominator].sum()
            # in the segments' own order: of two segments at the same rate the first wins, and the
            # engine's row order (DuckDB's parallel GROUP BY) is not stable between runs
            frame = frame.iloc[sorted(range(len(frame)), key=lambda i: str(frame[dim].iloc[i]))]
            for _i, r in frame.iterrows():
                rate = _f(r[metric])
                size = _f(r[form.denominator]) or 0.0
                if rate is not None and total and size / total >= MIN_SEGMENT_SHARE and size >= MIN_SEGMENT_SIZE \
                        and _better(spec, metric, rate, best.value):
                    best = Level(rate, f"best segment: {dim} = {r[dim]}", None, size)
    return best


def noise_p(project: Any, spec: Spec, metric: str, level: Level, current: dt.date, value: float) -> float | None:
    """The one-sided p-value that the reachable level beats the value now by chance alone, or
    None when the metric has no counting model (see `explain/noise.py`)."""
    high, low = (level.value, value) if spec.metrics[metric].direction == "up" else (value, level.value)
    m = spec.metrics[metric]
    if isinstance(m, AggregateMetric) and m.agg in ("count", "count_distinct") and not m.cumulative:
        return count_p(high, low)
    populations = _populations(project, spec, metric, [current] + ([level.period] if level.period else []))
    if populations is None:
        return None
    n_now = populations.get(current)
    n_level = level.population if level.population is not None else populations.get(level.period)
    if not n_now or not n_level:
        return None
    n_high, n_low = (n_level, n_now) if high == level.value else (n_now, n_level)
    return share_p(high, n_high, low, n_low)


def _populations(project: Any, spec: Spec, metric: str, periods: list[dt.date]) -> dict[dt.date, float] | None:
    """The population a share is taken of, per period: the entities active the period before (a
    retention), the entities doing `from` (a conversion), the denominator of a ratio of counts."""
    from northstar.engine import MetricQuery

    m, grain = spec.metrics[metric], spec.north_star.grain
    shift = 0
    if isinstance(m, RetentionMetric):
        probe = AggregateMetric(source=m.source, where=m.where, agg="count_distinct")
        shift = 1
    elif isinstance(m, ConversionMetric):
        where = f"({m.from_})" + (f" AND ({m.where})" if m.where else "")
        probe = AggregateMetric(source=m.source, where=where, agg="count_distinct")
    else:
        form, _probes = form_of(spec, metric)
        denominator = spec.metrics.get(form.denominator) if form is not None and form.denominator else None
        if not (isinstance(denominator, AggregateMetric) and denominator.agg in ("count", "count_distinct")):
            return None
        probe = denominator
    name = f"__population_{metric}"
    wanted = [shift_period(p, grain, -shift) for p in periods]
    engine = project.engine.extended({name: probe})
    frame = engine.query(MetricQuery(metrics=(name,), grain=grain, start=min(wanted), end=max(wanted)))
    values = {to_date(p): _f(v) for p, v in zip(frame["period"], frame[name])}
    return {p: values.get(w) or 0.0 for p, w in zip(periods, wanted)}
