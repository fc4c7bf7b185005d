"""Compile metrics to Ibis expressions that return aggregated rows only.

- `fuse_metric_queries`: every aggregate metric of one source in one scan, each metric a
  conditional aggregation (`agg(expr) FILTER (WHERE ...)`), grouped by period and segment.
- `first_seen`: for cumulative distinct counts, the period each value is first seen.
- `retention` and `conversion`: entity-level queries (distinct entity-periods, a window).
Every function takes a prepared table: filtered, with `__period`, `__local`, `__instant`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from northstar.engine.sql_to_ibis import to_ibis
from northstar.engine.time import shift_period_expr
from northstar.spec.model import AggregateMetric, ConversionMetric, RetentionMetric

PERIOD = "__period"
LOCAL = "__local"
INSTANT = "__instant"


def _condition(table: ir.Table, where: str | None) -> Any:
    return to_ibis(where, table) if where else None


def aggregate_value(table: ir.Table, metric: AggregateMetric, entity: str | None) -> Any:
    """The reduction for one aggregate metric (before grouping)."""
    cond = _condition(table, metric.where)
    agg = metric.agg
    if agg == "count":
        if metric.expr is None:
            return table.count(where=cond)
        return to_ibis(metric.expr, table).count(where=cond)
    if agg == "count_distinct":
        value = to_ibis(metric.expr, table) if metric.expr else table[entity]
        return value.nunique(where=cond)
    value = to_ibis(metric.expr, table)  # type: ignore[arg-type]
    if agg == "sum":
        return value.sum(where=cond)
    if agg == "avg":
        return value.mean(where=cond)
    if agg == "min":
        return value.min(where=cond)
    if agg == "max":
        return value.max(where=cond)
    raise AssertionError(f"unhandled agg {agg}")


def fuse_metric_queries(table: ir.Table, metrics: dict[str, AggregateMetric], keys: Sequence[str],
                        entity: str | None) -> ir.Table:
    """One grouped aggregation computing every metric of a source at once."""
    reductions = {name: aggregate_value(table, metric, entity) for name, metric in metrics.items()}
    return table.group_by([PERIOD, *keys]).aggregate(**reductions)


def first_seen(table: ir.Table, metric: AggregateMetric, keys: Sequence[str], entity: str | None,
               name: str) -> ir.Table:
    """New distinct values per period and segment: their running sum is the cumulative count."""
    value = to_ibis(metric.expr, table) if metric.expr else table[entity]
    cond = _condition(table, metric.where)
    rows = table.filter(value.notnull() if cond is None else (cond & value.notnull()))
    rows = rows.mutate(__value=rows[entity] if metric.expr is None else to_ibis(metric.expr, rows))
    firsts = rows.group_by(["__value", *keys]).aggregate(**{PERIOD: rows[PERIOD].min()})
    return firsts.group_by([PERIOD, *keys]).aggregate(**{name: firsts.count()})


def retention(table: ir.Table, metric: RetentionMetric, keys: Sequence[str], entity: str, grain: str,
              name: str) -> ir.Table:
    """Cohort = entities active in period p-1 (per segment); retained = active again in p."""
    cond = _condition(table, metric.where)
    active_rows = table.filter(table[entity].notnull() if cond is None else (cond & table[entity].notnull()))
    # One distinct (entity, period[, segment]) set serves both sides, so the engine scans once.
    pairs = active_rows.select(__entity=active_rows[entity], __from=active_rows[PERIOD],
                               **{k: active_rows[k] for k in keys}).distinct()
    cohort = pairs.mutate(**{PERIOD: shift_period_expr(pairs["__from"], grain, 1)})
    again = pairs.select(__entity_again=pairs["__entity"], __period_again=pairs["__from"])
    if keys:
        again = again.distinct()
    joined = cohort.left_join(again, [cohort["__entity"] == again["__entity_again"],
                                      cohort[PERIOD] == again["__period_again"]])
    grouped = joined.group_by([PERIOD, *keys]).aggregate(
        __cohort=joined.count(),
        __retained=joined["__entity_again"].count(),
    )
    return grouped.select(PERIOD, *keys, **{name: grouped["__retained"] / grouped["__cohort"]})


def conversion(table: ir.Table, metric: ConversionMetric, keys: Sequence[str], entity: str,
               name: str) -> ir.Table:
    """Share of entities with a `from` event in the period followed by a `to` within the window.

    For every event we find the time of the entity's next `to` event at or after it (a window
    over the entity's events ordered by time); a `from` event converts when that time is
    within the window.
    """
    is_from = to_ibis(metric.from_, table)
    is_to = to_ibis(metric.to, table)
    base = _condition(table, metric.where)
    keep = (is_from | is_to) & table[entity].notnull()
    rows = table.filter(keep if base is None else keep & base)
    rows = rows.mutate(__is_from=to_ibis(metric.from_, rows).fill_null(False),
                       __is_to=to_ibis(metric.to, rows).fill_null(False))
    window = ibis.window(group_by=rows[entity], order_by=rows[INSTANT], range=(0, None))
    rows = rows.mutate(__next_to=ibis.cases((rows["__is_to"], rows[INSTANT]), else_=ibis.null()).min().over(window))
    seconds = int(metric.window.total_seconds())
    froms = rows.filter(rows["__is_from"])
    froms = froms.mutate(__converted=(froms["__next_to"].notnull()
                                      & (froms["__next_to"] <= froms[INSTANT] + ibis.interval(seconds=seconds))))
    per_entity = froms.group_by([PERIOD, *keys, froms[entity].name("__entity")]).aggregate(
        __converted=froms["__converted"].any())
    grouped = per_entity.group_by([PERIOD, *keys]).aggregate(
        __entities=per_entity.count(),
        __conv=per_entity["__converted"].cast("int64").sum(),
    )
    return grouped.select(PERIOD, *keys, **{name: grouped["__conv"] / grouped["__entities"]})


def combine_parts(parts: Sequence[tuple[ir.Table, list[str]]], keys: Sequence[str],
                  null_safe_join: bool = True) -> ir.Table:
    """Full outer join of per-period results on period and segment, as one statement.

    Each part has one row per (period, segment), so the join cannot fan out; segments are
    matched null-safely (IS NOT DISTINCT FROM) so a null dimension value stays one segment.
    """
    columns = [PERIOD, *keys]
    if not null_safe_join and len(parts) > 1:
        # PostgreSQL runs a FULL JOIN only on equality: stack the parts and take each
        # metric's one value per (period, segment) instead (GROUP BY keeps a null as one group).
        types = {n: t for table, _ in parts for n, t in table.schema().items() if n not in columns}
        stacked = ibis.union(*[table.select(*columns, **{n: table[n] if n in table.columns else ibis.null(t)
                                                          for n, t in types.items()}) for table, _ in parts],
                             distinct=False)
        return stacked.group_by(columns).aggregate(**{n: stacked[n].max() for n in types})
    combined, _names = parts[0]
    for index, (right, names) in enumerate(parts[1:]):
        renamed = right.rename({f"__r{index}_{c}": c for c in columns}).view()
        left = combined.view()
        joined = left.outer_join(renamed, [left[c].identical_to(renamed[f"__r{index}_{c}"]) for c in columns])
        combined = joined.select(
            *[ibis.coalesce(joined[c], joined[f"__r{index}_{c}"]).name(c) for c in columns],
            *[joined[n] for n in joined.columns if n not in columns and not n.startswith(f"__r{index}_")],
        )
    return combined
