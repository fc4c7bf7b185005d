"""The statement of one source's part of a query: its metrics for a range of periods, fused.

One grouped aggregation for the sums, counts, distinct counts, averages, minima and maxima
(running totals are summed from its per-period values afterwards), a first-seen count for a
running distinct count, a retention's and a conversion's own sub-queries, full-joined on
period and segment into one statement, so the engine can share the scan (`compile.py` has the
pieces). Rows are restricted to what the periods need: a retention reads the period before, a
conversion looks ahead by its window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from northstar.engine.compile import (INSTANT, LOCAL, PERIOD, aggregate_value, combine_parts, conversion, first_seen,
                                      fuse_metric_queries, retention)
from northstar.engine.plan import Plan
from northstar.engine.time import instant_bound, shift_period
from northstar.errors import DataError, QueryError, first_line
from northstar.spec.expressions import parse_sql
from northstar.spec.model import AggregateMetric, ConversionMetric, RetentionMetric, Spec
from northstar.spec.validate import metric_expressions

if TYPE_CHECKING:
    from northstar.engine.engine import MetricEngine


def build_part(engine: "MetricEngine", plan: Plan, source_name: str, names: Sequence[str], first: dt.date,
               last: dt.date) -> ir.Table:
    """One statement computing the metrics `names` of one source for the periods first..last."""
    query, grain, keys = plan.query, plan.query.grain, list(plan.query.by)
    lo = dt.datetime.combine(first, dt.time())
    # windows: `first`/`last` are their first and last days (whole local days)
    hi = dt.datetime.combine(last + dt.timedelta(days=1) if query.windows else shift_period(last, grain, 1), dt.time())
    source = engine.spec.sources[source_name]
    # A join can fan out on every query: `sql:` sources' keys are checked before use
    # (file and table sources' keys are checked by `validate`).
    if source.sql and source.key and engine.duplicate_keys(source_name):
        from northstar.engine.datacheck import _fan_out_message
        raise DataError(_fan_out_message(source_name, source.key, engine.duplicate_keys(source_name)))
    table = engine.prepared(source_name, query.where, grain, columns_used(engine.spec, names, source, keys),
                            query.windows)
    bounds = engine.data_bounds(source_name)
    raw = source.timestamp if is_timestamp(table, source) else None
    rule = engine.time_rule(source_name)
    in_range = restrict(table, lo, hi, bounds, raw, rule)
    if query.windows:  # the days between two windows (e.g. a year ago and now) are read, not grouped
        in_range = in_range.filter(in_range[PERIOD].notnull())
    upto = restrict(table, None, hi, bounds, raw, rule)
    fused: dict[str, AggregateMetric] = {}
    source_parts: list[tuple[ir.Table, list[str]]] = []
    for name in names:
        metric = engine.spec.metrics[name]
        try:
            if isinstance(metric, AggregateMetric):
                aggregate_value(table, metric, source.entity)  # type-check before fusing
                if metric.cumulative and metric.agg == "count_distinct":
                    source_parts.append((first_seen(upto, metric, keys, source.entity, name), [name]))
                else:
                    fused[name] = metric
            elif isinstance(metric, RetentionMetric):
                lo_prev = dt.datetime.combine(shift_period(first, grain, -1), dt.time())
                rows = restrict(table, lo_prev, hi, bounds, raw, rule)
                source_parts.append((retention(rows, metric, keys, source.entity, grain, name), [name]))
            elif isinstance(metric, ConversionMetric):
                rows = restrict(table, lo, hi + metric.window + dt.timedelta(days=1), bounds, raw, rule)
                expr = conversion(rows, metric, keys, source.entity, name)
                source_parts.append((expr.filter(expr[PERIOD] <= last), [name]))
            else:  # pragma: no cover - formulas are not base metrics
                raise AssertionError(name)
        except (DataError, QueryError, AssertionError):
            raise
        except Exception as exc:
            raise DataError(str(engine.loaded.lines.problem(
                ("metrics", name), f"metric '{name}' does not fit the columns of source "
                f"'{source_name}': {first_line(exc)}"))) from None
    if fused:  # running totals are summed from these per-period values afterwards
        source_parts.append((fuse_metric_queries(in_range, fused, keys, source.entity), list(fused)))
    # One statement per source: the engine can share the scan between the parts.
    return combine_parts(source_parts, keys, engine.backend.null_safe_full_join)


def columns_used(spec: Spec, names: Sequence[str], source: Any, keys: Sequence[str]) -> list[str]:
    """The source columns that the metrics `names` and the breakdown read."""
    used = {c for c in (source.entity, source.timestamp) if c} | set(keys)
    for name in names:
        for _field, text in metric_expressions(spec.metrics[name]):
            used |= set(parse_sql(text).columns)
    return sorted(used)


def restrict(table: ir.Table, lo: dt.datetime | None, hi: dt.datetime | None,
             bounds: tuple[dt.datetime, dt.datetime] | None, raw: str | None = None,
             rule: str | None = None) -> ir.Table:
    """Rows with local time in [lo, hi); a bound the data lies inside anyway is left out,
    so a query over all the data scans without a filter.

    With `raw`, the source's own timestamp column (a timestamp type), that column is bounded
    too, with a day's margin for the zone offset: the engine can then skip the row groups of
    a file sorted by time by their statistics, which it cannot do through the local-time
    expression. With `rule` (how local time follows from the instant), a local bound away from
    any change of UTC offset is tested on the instant instead: the same rows, without
    computing the local-time expression for every row (4x faster on the demo).
    """
    conditions = []
    margin = dt.timedelta(days=1)
    column = table[raw] if raw is not None else None
    zone = column.type().timezone if column is not None else None  # type: ignore[union-attr]

    def literal(moment: dt.datetime) -> Any:
        return ibis.literal(pd.Timestamp(moment, tz=zone) if zone else pd.Timestamp(moment))

    def local_at_least(moment: dt.datetime) -> Any:
        instant = instant_bound(moment, rule)
        return table[LOCAL] >= moment if instant is None else table[INSTANT] >= instant

    def local_before(moment: dt.datetime) -> Any:
        instant = instant_bound(moment, rule)
        return table[LOCAL] < moment if instant is None else table[INSTANT] < instant

    if lo is not None and (bounds is None or bounds[0] < lo):
        conditions += ([column >= literal(lo - margin)] if column is not None else []) + [local_at_least(lo)]
    if hi is not None and (bounds is None or bounds[1] >= hi):
        conditions += ([column < literal(hi + margin)] if column is not None else []) + [local_before(hi)]
    return table.filter(*conditions) if conditions else table


def is_timestamp(table: ir.Table, source: Any) -> bool:
    """Is the source's time column kept in the table and a timestamp (not text, epoch or date)?"""
    return (source.timestamp in table.columns and not source.time_unit
            and table[source.timestamp].type().is_timestamp())
