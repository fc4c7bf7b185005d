"""Cohort activity of an entity metric, computed in the engine (only aggregated rows come back).

An entity metric counts who acted: an aggregate `count_distinct` metric without `expr` (it
counts the source's entity) or a `type: retention` metric; its `where` is the qualifying
activity. An entity's cohort is the period of its first qualifying event over all the data.
`cohort_activity` returns, per cohort and later period, the number of the cohort's entities
with a qualifying event in that period; `northstar.analysis.cohorts` turns them into rates.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from northstar.engine.compile import PERIOD
from northstar.engine.sql_to_ibis import to_ibis
from northstar.engine.time import period_start, shift_period
from northstar.engine.plan import unknown_metric
from northstar.errors import DataError, QueryError, first_line
from northstar.spec.expressions import parse_sql
from northstar.spec.model import GRAINS, AggregateMetric, RetentionMetric, Spec
from northstar.spec.suggest import did_you_mean

if TYPE_CHECKING:
    from northstar.engine.engine import MetricEngine

_ENTITY = "__entity"
_COHORT = "__cohort"


def is_entity_metric(spec: Spec, name: str) -> bool:
    """Whether a metric counts entities (and its source declares one)."""
    metric = spec.metrics.get(name)
    if isinstance(metric, AggregateMetric):
        counts_entities = metric.agg == "count_distinct" and metric.expr is None
    else:
        counts_entities = isinstance(metric, RetentionMetric)
    source = spec.sources.get(getattr(metric, "source", ""))
    return counts_entities and source is not None and bool(source.entity)


def entity_metrics(spec: Spec) -> list[str]:
    return [name for name in spec.metrics if is_entity_metric(spec, name)]


def _qualifying(spec: Spec) -> str:
    names = entity_metrics(spec)
    return (f"qualifying metrics: {', '.join(names)}" if names
            else "no metric of the spec qualifies: define one with `agg: count_distinct` and no `expr`")


def check_entity_metric(spec: Spec, name: str) -> AggregateMetric | RetentionMetric:
    """The metric, or a one-line QueryError saying which metrics have cohorts."""
    if name not in spec.metrics:
        raise unknown_metric(spec, name)
    metric = spec.metrics[name]
    source_name = getattr(metric, "source", None)
    source = spec.sources.get(source_name) if source_name else None
    if is_entity_metric(spec, name):
        return metric  # type: ignore[return-value]
    if isinstance(metric, AggregateMetric | RetentionMetric) and source is not None and not source.entity and (
            isinstance(metric, RetentionMetric) or (metric.agg == "count_distinct" and metric.expr is None)):
        raise QueryError(f"metric '{name}': source '{source_name}' declares no `entity`, so it has no cohorts; "
                         f"add `entity:` to the source ({_qualifying(spec)})")
    if isinstance(metric, AggregateMetric):
        kind = f"a {metric.agg}" + (f" of `{metric.expr}`" if metric.expr else "")
    else:
        kind = f"a {getattr(metric, 'type', 'formula')} metric"
    raise QueryError(f"metric '{name}' is {kind}, not an entity metric: cohorts need a `count_distinct` metric "
                     f"without `expr` or a `type: retention` metric ({_qualifying(spec)})")


def check_grain(grain: str) -> str:
    if grain not in GRAINS:
        raise QueryError(f"unknown grain '{grain}': use one of {', '.join(GRAINS)}." + did_you_mean(grain, GRAINS))
    return grain


def last_period(engine: "MetricEngine", name: str, grain: str) -> tuple[dt.date, dt.date] | None:
    """The last period of the metric's source and the local date of its last event (None: no events)."""
    source_name = engine.spec.metrics[name].source  # type: ignore[union-attr]
    bounds = engine.data_bounds(source_name)
    if bounds is None:
        return None
    last_day = bounds[1].date()
    return period_start(last_day, grain), last_day


def cohort_activity(engine: "MetricEngine", name: str, grain: str, first_cohort: dt.date | None = None,
                    last_cohort: dt.date | None = None) -> list[tuple[dt.date, dt.date, int]]:
    """(cohort, period, entities) for every cohort and period with at least one active entity.

    `first_cohort`/`last_cohort` (period labels) keep only those cohorts; membership is still
    decided over all the data. One statement: the distinct (entity, period) activity, each
    entity's first period (group by, min), joined back and counted per (cohort, period).
    """
    spec = engine.spec
    metric = check_entity_metric(spec, name)
    source = spec.sources[metric.source]
    entity = source.entity
    assert entity is not None  # checked above
    columns = {entity, source.timestamp or ""} | (set(parse_sql(metric.where).columns) if metric.where else set())
    table = engine.prepared(metric.source, None, check_grain(grain), sorted(c for c in columns if c))
    keep = table[entity].notnull() & table[PERIOD].notnull()
    if metric.where:
        try:
            keep = keep & to_ibis(metric.where, table)
        except Exception as exc:
            raise DataError(f"metric '{name}': `where` does not fit the columns of source '{metric.source}': "
                            f"{first_line(exc)}") from None
    active = table.filter(keep)
    # Distinct pairs: counting rows of a (cohort, period) group counts distinct entities.
    pairs = active.select(**{_ENTITY: active[entity], PERIOD: active[PERIOD]}).distinct()
    firsts = pairs.group_by(_ENTITY).aggregate(**{_COHORT: pairs[PERIOD].min()})
    if first_cohort is not None:
        firsts = firsts.filter(firsts[_COHORT] >= first_cohort)
    if last_cohort is not None:
        firsts = firsts.filter(firsts[_COHORT] < shift_period(last_cohort, grain, 1))
    joined = pairs.join(firsts, _ENTITY)
    counts = joined.group_by([_COHORT, PERIOD]).aggregate(entities=joined.count())
    frame = engine.backend.execute(counts, what=f"cohorts of metric '{name}'")
    return [(_date(c), _date(p), int(n)) for c, p, n in zip(frame[_COHORT], frame[PERIOD], frame["entities"])]


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return value.to_pydatetime().date()  # type: ignore[attr-defined]
