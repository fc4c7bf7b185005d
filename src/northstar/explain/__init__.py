"""Why did it move? The change of a metric split exactly through the tree, then into segments.

`explain(project, metric, period, vs, by)`:
1. the metric's value in `period` and in the baseline period (the previous one, the same one a
   year earlier, or the period of a date);
2. the change split over the metric's formula inputs with Shapley values, recursively down
   the tree (`explain/decompose.py`): the parts add up exactly to the change;
3. the segments (dimension values and pairs) that drove the metric and its inputs that moved
   most, with rate and mix effects for ratios (`explain/segments.py`, which states the rule
   that names one), whether a dimension's segments overlap, and the few orders or customers
   that dominate a sum or count (`explain/entities.py`);
4. for inputs with `drivers`, whether each driver moved in the period its lag points to, and
   how strongly it has led the node historically;
5. whether either period had no activity at all (then that is the explanation) and whether a
   side is partial or provisional (a caveat) (`explain/coverage.py`);
6. a paragraph in plain words (`explain/narrative.py`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from northstar.analysis.lead import at_lag
from northstar.analysis.tree import label_of
from northstar.engine.plan import dependency_order, unknown_metric
from northstar.engine.time import period_start, same_period_last_year, shift_period, to_date
from northstar.errors import QueryError
from northstar.explain.coverage import caveats, inactive_sides
from northstar.explain.decompose import attribute, decomposition, flatten
from northstar.explain.entities import top_entities
from northstar.explain.model import Contribution, DriverMove, Explanation, Segment
from northstar.explain.narrative import summarise
from northstar.explain.segments import SegmentSearch, find_segments, validate_by

__all__ = ["Contribution", "DriverMove", "Explanation", "Segment", "explain"]

SEGMENT_INPUTS = 3  # the inputs that moved most, besides the metric itself, that get segments
HISTORY_PERIODS = 52  # periods of history behind a driver's correlation


def baseline_period(period: dt.date, grain: str, vs: str) -> dt.date:
    if vs == "previous":
        return shift_period(period, grain, -1)
    if vs == "year":
        return same_period_last_year(period, grain)
    try:
        return period_start(to_date(vs), grain)
    except ValueError:
        raise QueryError(f"--vs: '{vs}' is not previous, year or a date (YYYY-MM-DD)") from None


def explain(project: Any, metric: str | None = None, period: object = None, vs: str = "previous",
            by: Sequence[str] = ()) -> Explanation:
    spec = project.spec
    metric = metric or spec.north_star.metric
    if metric not in spec.metrics:
        raise unknown_metric(spec, metric)
    grain = spec.north_star.grain
    tree = decomposition(spec, metric)
    names = tree.names()
    current = project.period_info(period).period  # default: the review period, the same for every command
    base = baseline_period(current, grain, vs)
    if base == current:
        raise QueryError("--vs: the baseline is the period itself; pick an earlier date")
    _inside_data(project, names, grain, current, base)
    everything = list(dict.fromkeys([*names, *dependency_order(spec, tuple(names))]))  # the tree and its base counts
    values = _values(project, everything, grain, current, base)
    inactive = inactive_sides(project, everything, values, current, base)
    finite = not (math.isnan(values[current][metric]) or math.isnan(values[base][metric]))
    if not finite and not inactive:
        raise QueryError(f"'{metric}' has no value in the {grain} of {current} or of {base}: pick periods inside "
                         "the data (`northstar query " + metric + "` lists them)")
    label = label_of(spec, metric)
    root = attribute(spec, tree, values[base], values[current]) if finite else _no_value(spec, metric, values,
                                                                                         current, base)
    validate_by(project, metric, by)
    search, entities, drivers = SegmentSearch((), (), (), False), [], []
    if root.contribution and not inactive:
        moved = [c for c in flatten(root) if c.share is not None]
        moved.sort(key=lambda c: -abs(c.contribution))
        chosen = {metric: 1.0, **{c.metric: c.share for c in moved[:SEGMENT_INPUTS] if abs(c.share or 0) >= 0.05}}
        search = find_segments(project, chosen, current, base, by, values)
        pushing = [m for m, share in chosen.items() if share > 0]
        entities = top_entities(project, pushing, current, base, values)
    if not inactive:
        drivers = _drivers(project, names, current, base, values)
    explanation = Explanation(metric, label, grain, current, base, root.value, root.baseline, root,
                              search.segments, tuple(drivers), "", search.notes, search.overlaps, tuple(entities),
                              inactive, caveats(project, metric, label, current, base), search.searched)
    return Explanation(**{**explanation.__dict__, "summary": summarise(spec, explanation)})


def _no_value(spec: Any, metric: str, values: dict[dt.date, dict], current: dt.date, base: dt.date) -> Contribution:
    """The root of an explanation in which a side has no value (a ratio in a period without events)."""
    def clean(value: float) -> float | None:
        return None if math.isnan(value) else value

    return Contribution(metric, label_of(spec, metric), clean(values[base][metric]), clean(values[current][metric]),
                        0.0, None, "formula")


def _inside_data(project: Any, names: list[str], grain: str, current: dt.date, base: dt.date) -> None:
    """Both periods must overlap the data (outside it, counts would read as zero)."""
    sources = {getattr(project.spec.metrics[n], "source", None) for n in names} - {None}
    bounds = [b for s in sources if (b := project.engine.data_bounds(s)) is not None]
    if not bounds:
        raise QueryError("the data holds no events")
    first = period_start(min(b[0] for b in bounds).date(), grain)
    last = period_start(max(b[1] for b in bounds).date(), grain)
    for name, when in (("--period", current), ("--vs", base)):
        if not first <= when <= last:
            raise QueryError(f"{name}: the {grain} of {when} has no value: the data covers {first} to {last} "
                             f"(`northstar query {names[0]}` lists the periods)")


def _values(project: Any, names: list[str], grain: str, current: dt.date, base: dt.date) -> dict[dt.date, dict]:
    """{period: {metric: value}} for the two periods; NaN where there is no value."""
    frame = project.query(names, grain=grain, start=min(current, base), end=max(current, base))
    out: dict[dt.date, dict] = {when: dict.fromkeys(names, math.nan) for when in (current, base)}
    for _i, row in frame[frame["period"].isin([current, base])].iterrows():
        out[row["period"]] = {n: float(row[n]) if pd.notna(row[n]) else math.nan for n in names}
    return out


def _drivers(project: Any, names: list[str], current: dt.date, base: dt.date,
             values: dict[dt.date, dict]) -> list[DriverMove]:
    spec = project.spec
    grain = spec.north_star.grain
    links = [(node, d) for node in names if (n := spec.north_star.tree.get(node)) for d in n.drivers]
    if not links:
        return []
    wanted = list(dict.fromkeys([*(d.metric for _n, d in links), *(node for node, _d in links)]))
    start = shift_period(current, grain, -HISTORY_PERIODS)
    history = project.query(wanted, grain=grain, start=start, end=current).set_index("period")
    out = []
    for node, driver in links:
        at, before = shift_period(current, grain, -driver.lag), shift_period(base, grain, -driver.lag)
        now = history[driver.metric].get(at)
        then = history[driver.metric].get(before)
        change = (float(now) / float(then) - 1) if now is not None and then not in (None, 0) and now == now \
            and then == then else None
        node_change = (values[current].get(node) or 0) - (values[base].get(node) or 0)
        sign = 1 if driver.direction == "up" else -1
        expected = None if change is None or node_change == 0 else (sign * change > 0) == (node_change > 0)
        past = history[history.index < current]
        found = at_lag(past[driver.metric], past[node], driver.lag) if len(past) > driver.lag + 13 else None
        out.append(DriverMove(node, driver.metric, driver.direction, driver.lag, at, change, expected,
                              found[0] if found else None, found[1] if found else None))
    return out
