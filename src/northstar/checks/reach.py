"""Who reaches a metric's value: customers active in a source against those who reached it."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import ibis
import pandas as pd

from northstar.checks.context import CheckContext
from northstar.engine.compile import PERIOD
from northstar.engine.kept import kept
from northstar.engine.sql_to_ibis import to_ibis
from northstar.spec.expressions import parse_sql
from northstar.spec.model import AggregateMetric
from northstar.spec.validate import metric_expressions


def reach_by_segment(ctx: CheckContext, source_name: str, bases: dict[str, AggregateMetric], first: dt.date,
                     last: dt.date, dimensions: tuple[str, ...] | None = None) -> dict[str, pd.Series | pd.DataFrame]:
    """Per dimension ('' = everyone, a Series; else a frame indexed by the dimension's values):

    - `active`: customers with any row in the source over the window (each counted once),
    - `periods_active`: active customer-periods (a customer once per period),
    - `reached:<metric>`: customers who met the metric's `where` at least once,
    - `value:<metric>`: the metric's value (counts and sums) over the window.

    Reach counts customers once over the window; value is per active customer and period, so
    attributes that change over time (a 14-day trial plan) do not shrink it. One pass per
    dimension computes every metric of the source; each dimension's answer is kept
    (`engine.kept`) until the data of first..last changes.
    """
    source = ctx.spec.sources[source_name]
    dims = source.dimensions if dimensions is None else dimensions
    engine = ctx.project.engine
    what = ["reach", {n: m.model_dump(mode="json", exclude={"label", "description", "target"}) for n, m in bases.items()}]
    with contextlib.ExitStack() as stack:
        narrowed: list[ibis.Table] = []

        def rows() -> ibis.Table:  # made once, on the first dimension not kept
            if not narrowed:
                narrowed.append(stack.enter_context(engine.backend.cache(_narrow(ctx, source_name, bases, dims,
                                                                                  first, last))))
            return narrowed[0]

        out: dict[str, pd.Series | pd.DataFrame] = {}
        for dim in ("", *dims):
            frame = kept(engine, source_name, [*what, dim], ctx.grain, first, last,
                         lambda _lo, _hi, dim=dim: _count(engine, rows(), bases, dim), whole=True)
            out[dim] = frame.set_index(dim) if dim else frame.iloc[0]
        return out


def _narrow(ctx: CheckContext, source_name: str, bases: dict[str, AggregateMetric], dims: tuple[str, ...],
            first: dt.date, last: dt.date) -> ibis.Table:
    """The rows of first..last narrowed to what the counts need: cached in the engine once (a
    temporary table) for the per-dimension aggregations, not the source read again."""
    source = ctx.spec.sources[source_name]
    columns = {source.entity, source.timestamp, *dims} | {c for m in bases.values() for _f, text in metric_expressions(m)
                                                          for c in parse_sql(text).columns}
    engine = ctx.project.engine
    table = engine.prepared(source_name, None, ctx.grain, sorted(c for c in columns if c))
    table = engine.in_periods(source_name, table, first, last, ctx.grain)  # skips row groups by time
    table = table.filter(table[PERIOD] >= first, table[PERIOD] <= last)  # and rows without a time
    narrow = {PERIOD: table[PERIOD], "__entity": table[source.entity], **{d: table[d] for d in dims}}
    for i, (name, metric) in enumerate(bases.items()):
        narrow[f"__cond{i}"] = to_ibis(metric.where, table) if metric.where else ibis.literal(True)
        if metric.expr is not None and metric.agg in ("count", "sum"):
            narrow[f"__value{i}"] = to_ibis(metric.expr, table)
    return table.select(**narrow)


def _count(engine: Any, table: ibis.Table, bases: dict[str, AggregateMetric], dim: str) -> pd.DataFrame:
    """The counts by `dim` ('' = everyone: one row)."""
    entity = table["__entity"]
    reach = {"active": entity.nunique()}
    per_period = {"periods_active": entity.nunique()}
    for i, (name, metric) in enumerate(bases.items()):
        cond = table[f"__cond{i}"]
        reach[f"reached:{name}"] = entity.nunique(where=cond)
        if metric.agg == "count":  # rows, or non-null values of `expr`
            per_period[f"value:{name}"] = (table[f"__value{i}"].count(where=cond) if metric.expr is not None
                                           else table.count(where=cond))
        elif metric.agg == "sum":
            per_period[f"value:{name}"] = table[f"__value{i}"].sum(where=cond)
    keys = [dim] if dim else []
    stage = table.group_by([PERIOD, *keys]).aggregate(**per_period)
    sums = {c: stage[c].sum() for c in per_period}
    second = stage.group_by(keys).aggregate(**sums) if keys else stage.aggregate(**sums)
    counted = table.group_by(keys).aggregate(**reach) if keys else table.aggregate(**reach)
    what = f"counting customers by {dim or 'all'}"
    a, b = engine.backend.execute(counted, what), engine.backend.execute(second, what)
    frame = (a.merge(b, on=keys) if keys else pd.concat([a, b], axis=1))
    return frame.astype({c: float for c in frame.columns if c != dim})
