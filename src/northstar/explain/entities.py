"""The orders or customers behind a change of a sum or count, when a few of them dominate.

Segments say *where* a change happened; they cannot see one £168k invoice that made 41% of a
week's revenue, because it hides inside every segment it belongs to. For a sum (grouped by the
source's `key`, the order or invoice, else its `entity`, the customer) and a count (grouped by
the entity: a count per key is 1), one grouped query through the engine's prepared table (its
periods restricted as the engine's own queries are) finds the ids that weigh most in either
period or in the change, limited to the top `LIMIT` rows, with the number of ids alongside.

A finding is made when there are at least `MIN_POPULATION` ids (with three customers, one of
them always has a third of everything):
- one id is more than `DOMINANT` (a quarter) of the metric's total in the period ("period") or
  in the baseline period ("baseline"), among at least `MIN_POPULATION` ids with a value in that
  period; else
- the (at most) `FEW` ids that changed most in the direction of the metric's change explain at
  least `EXPLAINS` (half) of that change ("change"), the change is at least `MATERIAL` (a
  tenth) of the larger of the two totals, and each of them changed by at least `OUTSIZED` times
  an average id's value (the larger total over the ids): one order landing in a week that
  rose 0.2%, or two customers with two orders fewer each, dominate nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence

import ibis

from northstar.engine.compile import PERIOD
from northstar.engine.kept import kept
from northstar.engine.sql_to_ibis import to_ibis
from northstar.explain.model import EntityFinding, TopEntity
from northstar.spec.expressions import parse_sql
from northstar.spec.model import AggregateMetric, Spec
from northstar.spec.validate import metric_expressions

LIMIT = 5
MIN_POPULATION = 10
DOMINANT = 0.25
FEW = 3
EXPLAINS = 0.5
MATERIAL = 0.1
OUTSIZED = 5.0


def grouping_column(spec: Spec, name: str) -> str | None:
    """The column whose ids a sum or count is drilled into, or None when it is neither."""
    metric = spec.metrics.get(name)
    if not isinstance(metric, AggregateMetric) or metric.cumulative or metric.agg not in ("sum", "count"):
        return None
    source = spec.sources[metric.source]
    if metric.agg == "sum":
        return source.key or source.entity
    return source.entity


def noun_of(column: str) -> str:
    """What one id is, in words, from the column's name: invoice_no -> invoice, OwnerUserId -> owner user."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", column).replace("_", " ").replace("-", " ").lower().split()
    while len(words) > 1 and words[-1] in ("id", "no", "nr", "number", "key", "code", "ref"):
        words.pop()
    return " ".join(words) or column


def top_entities(project: object, metrics: Sequence[str], period: dt.date, baseline: dt.date,
                 values: Mapping[dt.date, Mapping[str, float]]) -> list[EntityFinding]:
    """A finding for each of `metrics` (sums and counts) whose change a few ids dominate."""
    spec: Spec = project.spec  # type: ignore[attr-defined]
    out = []
    for name in metrics:
        column = grouping_column(spec, name)
        now, before = values[period].get(name), values[baseline].get(name)
        if column is None or not _finite(now) or not _finite(before):
            continue
        top, population = _query(project, name, column, period, baseline, float(now), float(before))  # type: ignore[arg-type]
        finding = judge(name, column, top, population, float(now), float(before))  # type: ignore[arg-type]
        if finding is not None:
            out.append(finding)
    return out


def judge(metric: str, column: str, top: Sequence[TopEntity], population: tuple[int, int, int], total: float,
          baseline_total: float) -> EntityFinding | None:
    """The finding the rule above makes from the top ids and the number of ids (in either period,
    in the period, in the baseline period), or None (pure: tested on its own)."""
    either, now, before = population
    if either < MIN_POPULATION or not top:
        return None
    noun = noun_of(column)
    singles = [(e.value / total, "period", e, total) for e in top if total > 0 and now >= MIN_POPULATION]
    singles += [(e.baseline / baseline_total, "baseline", e, baseline_total) for e in top
                if baseline_total > 0 and before >= MIN_POPULATION]
    singles = [s for s in singles if s[0] > DOMINANT]
    if singles:
        share, kind, entity, of = max(singles, key=lambda s: (s[0], s[1] == "period"))
        return EntityFinding(metric, column, noun, kind, (entity,), share, of, either)
    change = total - baseline_total
    if not change or abs(change) < MATERIAL * max(abs(total), abs(baseline_total)):
        return None
    typical = max(abs(total), abs(baseline_total)) / either
    ordered = sorted((e for e in top if e.change * change > 0 and abs(e.change) >= OUTSIZED * typical),
                     key=lambda e: -abs(e.change))
    taken = ordered[:FEW]
    moved = sum(e.change for e in taken)
    if taken and moved / change >= EXPLAINS:
        return EntityFinding(metric, column, noun, "change", tuple(taken), moved / change, change, either)
    return None


def _query(project: object, name: str, column: str, period: dt.date, baseline: dt.date, total: float,
           baseline_total: float) -> tuple[list[TopEntity], tuple[int, int, int]]:
    spec: Spec = project.spec  # type: ignore[attr-defined]
    engine = project.engine  # type: ignore[attr-defined]
    metric: AggregateMetric = spec.metrics[name]  # type: ignore[assignment]
    grain = spec.north_star.grain
    source = spec.sources[metric.source]
    used = {column, source.timestamp} | {c for _f, text in metric_expressions(metric) for c in parse_sql(text).columns}
    table = engine.prepared(metric.source, None, grain, sorted(c for c in used if c))
    rows = engine.in_periods(metric.source, table, period, period, grain).union(
        engine.in_periods(metric.source, table, baseline, baseline, grain), distinct=False)
    rows = rows.filter(rows[column].notnull())
    if metric.where:
        rows = rows.filter(to_ibis(metric.where, rows))
    is_now, is_before = rows[PERIOD] == ibis.literal(period), rows[PERIOD] == ibis.literal(baseline)
    if metric.agg == "sum":
        value = to_ibis(metric.expr, rows)  # type: ignore[arg-type]
        now, before = value.sum(where=is_now), value.sum(where=is_before)
    elif metric.expr:
        value = to_ibis(metric.expr, rows)
        now, before = value.count(where=is_now), value.count(where=is_before)
    else:
        now, before = rows.count(where=is_now), rows.count(where=is_before)
    grouped = rows.group_by(__id=rows[column]).aggregate(__now=now, __before=before)
    grouped = grouped.mutate(__now=grouped["__now"].fill_null(0), __before=grouped["__before"].fill_null(0))
    # the counts of ids as window aggregates over the whole grouping, so one query returns both
    everything = ibis.window()
    grouped = grouped.mutate(__n=grouped["__id"].count().over(everything),
                             __n_now=(grouped["__now"] != 0).cast("int64").sum().over(everything),
                             __n_before=(grouped["__before"] != 0).cast("int64").sum().over(everything))
    weights = [1 / abs(x) if x else 0.0 for x in (total - baseline_total, total, baseline_total)]
    score = ibis.greatest((grouped["__now"] - grouped["__before"]).abs() * weights[0],
                          grouped["__now"].abs() * weights[1], grouped["__before"].abs() * weights[2])
    top = grouped.order_by([ibis.desc(score), grouped["__id"]]).limit(LIMIT)
    # kept like the metric parts: computed again only when a change of the data touches the
    # periods from the earlier to the later of the two (a new day after them keeps it)
    what = ["top_entities", metric.model_dump(mode="json"), column, getattr(engine, "segment", None),
            period.isoformat(), baseline.isoformat(), total, baseline_total, LIMIT]
    frame = kept(engine, metric.source, what, grain, min(period, baseline), max(period, baseline),
                 lambda _lo, _hi: engine.backend.execute(top, what=f"finding the {noun_of(column)}s behind {name}"),
                 whole=True)
    if not len(frame):
        return [], (0, 0, 0)
    first = frame.iloc[0]
    population = (int(first["__n"]), int(_number(first["__n_now"])), int(_number(first["__n_before"])))
    entities = [TopEntity(_plain(r["__id"]), float(r["__now"]), float(r["__before"])) for _i, r in frame.iterrows()]
    return entities, population


def _number(value: object) -> float:
    return float(value) if _finite(value) else 0.0  # type: ignore[arg-type]


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _plain(value: object) -> object:
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value
