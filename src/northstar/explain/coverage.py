"""Whether the two periods of an explanation can be compared at all.

- *Inactive*: a period in which every base count behind the metric is zero (a shop closed over
  Christmas, a gap in an export). Its change is not explained by segments, orders or drivers:
  the words say there was no activity.
- *Caveats*: a side that the data covers only partly (it starts or ends inside the period) or
  in which the metric is provisional (a conversion window that has not passed yet), from
  `Project.period_info`. A year-on-year change against a first week of three days is mostly
  the four missing days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from northstar.engine import MetricQuery
from northstar.errors import QueryError
from northstar.numbers import number_or_none
from northstar.spec.model import AggregateMetric


def inactive_sides(project: Any, names: Sequence[str], values: Mapping[dt.date, Mapping[str, float]],
                   current: dt.date, base: dt.date) -> tuple[str, ...]:
    """("period" and/or "baseline"): the sides in which every base count behind the metric is
    zero (counts, distinct counts and sums at 0, averages, minima and maxima without a value),
    read from the metric's own `values`. An app offline over Christmas has no plays, no
    listeners and no minutes, while its billing, in the same source, carries on: that week has
    no activity for listening minutes. A metric without such inputs (only rates) falls back to
    the events of its sources (one fused count per source, both periods in one query)."""
    spec = project.spec
    leaves = [n for n in names if isinstance(m := spec.metrics[n], AggregateMetric) and not m.cumulative]
    if not leaves:
        return _without_events(project, names, current, base)
    out = []
    for side, when in (("period", current), ("baseline", base)):
        if not any(_active(spec.metrics[n].agg, values[when].get(n)) for n in leaves):
            out.append(side)
    return tuple(out)


def _active(agg: str, value: object) -> bool:
    number = number_or_none(value)
    if agg in ("count", "count_distinct", "sum"):
        return bool(number)
    return number is not None


def _without_events(project: Any, names: Sequence[str], current: dt.date, base: dt.date) -> tuple[str, ...]:
    spec = project.spec
    sources = sorted({s for n in names if (s := getattr(spec.metrics[n], "source", None))})
    if not sources:
        return ()
    probes = {f"__rows_{i}": AggregateMetric(source=s, agg="count") for i, s in enumerate(sources)}
    frame = project.engine.extended(probes).query(MetricQuery(
        metrics=tuple(probes), grain=spec.north_star.grain, start=min(current, base), end=max(current, base)))
    out = []
    for side, when in (("period", current), ("baseline", base)):
        rows = frame[frame["period"] == when]
        if not len(rows) or not float(rows[list(probes)].fillna(0).to_numpy().sum()):
            out.append(side)
    return tuple(out)


def caveats(project: Any, metric: str, label: str, current: dt.date, base: dt.date) -> tuple[str, ...]:
    """One line for each side that is partial or in which `metric` is provisional."""
    out = []
    for side, when, option in (("", current, "--period"), ("baseline ", base, "--vs")):
        try:
            info = project.period_info(when, metrics=[metric], name=option)
        except QueryError as exc:  # outside the data: explain refuses such a period before this
            out.append(str(exc))
            continue
        where = f"the {side}{info.grain} of {when.isoformat()}"
        if info.state == "partial":
            out.append(f"{where} is partial ({info.reason}), so part of the change is days without data")
        elif info.is_provisional(metric):
            until = info.provisional[metric].isoformat()
            out.append(f"{label} in {where} is provisional: its window has not passed yet "
                       f"(final once the data reaches {until})")
    return tuple(out)
