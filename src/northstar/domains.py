"""The domains of a project's metrics, read through its engine: `analysis.domain` is pure
(a metric's definition, plus the range of the values it is taken over); this module asks the
engine for the two things a definition does not show: the range of the values a `sum`, `avg`,
`min` or `max` is taken over (is a sum of them >= 0? is an average of them a share?) and, per
period, what a metric's counting noise is counted over (a share's denominator, a sum's rows).
Both come from probe metrics (ad-hoc aggregates of the same sources, filters and expressions)
through the project's engine, once per metric and project.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Sequence
from typing import Any

import pandas as pd

from northstar.analysis.domain import Domain, Size, domain_of
from northstar.engine import MetricQuery
from northstar.engine.plan import dependency_order
from northstar.spec.model import AggregateMetric, Spec

RANGED = ("sum", "avg", "min", "max")  # aggregations whose domain depends on the values' range

_cache: "weakref.WeakKeyDictionary[Any, dict[tuple, Any]]" = weakref.WeakKeyDictionary()


def _memo(project: Any) -> dict[tuple, Any]:
    try:
        return _cache.setdefault(project, {})
    except TypeError:  # not weak-referenceable: no cache
        return {}


def _probe(project: Any, metrics: dict[str, Any], grain: str, end: dt.date | None = None) -> pd.DataFrame:
    engine = project.engine.extended(metrics)
    return engine.query(MetricQuery(metrics=tuple(metrics), grain=grain, end=end))


def value_ranges(project: Any, metric: str) -> dict[str, tuple[float | None, float | None]]:
    """The smallest and largest value of each `sum`/`avg`/`min`/`max` input of `metric`'s
    expression in the data (None when the data has none)."""
    spec: Spec = project.spec
    names = [n for n in dependency_order(spec, (metric,))
             if isinstance(spec.metrics[n], AggregateMetric) and spec.metrics[n].agg in RANGED]
    if not names:
        return {}
    memo = _memo(project)
    missing = [n for n in names if ("range", n) not in memo]
    if missing:
        probes: dict[str, Any] = {}
        for n in missing:
            m = spec.metrics[n]
            probes[f"__range_min_{n}"] = m.model_copy(update={"agg": "min", "cumulative": False})
            probes[f"__range_max_{n}"] = m.model_copy(update={"agg": "max", "cumulative": False})
        frame = _probe(project, probes, spec.north_star.grain)
        for n in missing:
            low = pd.to_numeric(frame[f"__range_min_{n}"], errors="coerce").min()
            high = pd.to_numeric(frame[f"__range_max_{n}"], errors="coerce").max()
            memo[("range", n)] = (None if pd.isna(low) else float(low), None if pd.isna(high) else float(high))
    return {n: memo[("range", n)] for n in names}


def metric_domain(project: Any, metric: str) -> Domain:
    """`domain_of` the metric, with the value ranges its definition needs read from the data."""
    memo = _memo(project)
    if ("domain", metric) not in memo:
        memo[("domain", metric)] = domain_of(project.spec, metric, observed=value_ranges(project, metric))
    return memo[("domain", metric)]


def metric_sizes(project: Any, metric: str, domain: Domain, periods: Sequence[dt.date]) -> pd.Series | None:
    """What the counting noise of each of `periods` is counted over (see `Size`), or None when
    the domain has no size."""
    size: Size | None = domain.size
    if size is None or not len(periods):
        return None
    grain = project.spec.north_star.grain
    end = max(periods)
    key = ("sizes", metric, end)
    memo = _memo(project)
    if key not in memo:
        probes = size.probes(metric)
        names = [n for n in (metric if size.kind == "spread" else None, size.metric) if n]
        engine = project.engine.extended(probes) if probes else project.engine
        frame = engine.query(MetricQuery(metrics=tuple(dict.fromkeys(names + list(probes))), grain=grain, end=end))
        values = size.series(frame, metric)
        memo[key] = None if values is None else pd.Series(
            values.to_numpy(dtype=float), index=[pd.Timestamp(p).date() for p in frame["period"]])
    return memo[key]


def metric_domains(project: Any, metrics: Sequence[str]) -> dict[str, Domain]:
    """`metric_domain` of each metric that the engine can say it for (the others are left out:
    callers fall back to the definition alone)."""
    from northstar.errors import NorthstarError

    out: dict[str, Domain] = {}
    for name in metrics:
        try:
            out[name] = metric_domain(project, name)
        except NorthstarError:
            continue
    return out
