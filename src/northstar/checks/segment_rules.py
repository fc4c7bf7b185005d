"""Rules judged from the data across segments and events: reach, dependency, duplicates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import ibis
import pandas as pd

from northstar.checks.attributes import split_dimensions
from northstar.checks.context import CheckContext, NotEvaluated
from northstar.checks.findings import Finding, rule
from northstar.checks.reach import reach_by_segment
from northstar.checks.spec_rules import is_ratio
from northstar.engine.compile import INSTANT, PERIOD
from northstar.engine.sql_to_ibis import to_ibis
from northstar.engine.kept import kept
from northstar.engine.parts import Touch
from northstar.engine.time import period_start, shift_period
from northstar.spec.expressions import parse_sql
from northstar.spec.model import AggregateMetric, parse_duration

NEUTRAL = {"", "organic", "direct", "none", "null", "unknown", "other", "(none)", "(direct)", "n/a", "nan"}
MIN_SHARE, MIN_ENTITIES, REACH_RATIO = 0.01, 30, 0.5


def _window(ctx: CheckContext, names: list[str]) -> tuple[dt.date, dt.date]:
    """The complete periods the segment rules look at: `checks.lookback` of them, or all."""
    frame = ctx.series(names)
    if frame.empty:
        raise NotEvaluated(f"no complete {ctx.grain} of '{ctx.nsm}'")
    first, last = min(frame.index), max(frame.index)
    if ctx.spec.checks.lookback:
        first = max(first, shift_period(last, ctx.grain, 1 - ctx.spec.checks.lookback))
    return first, last


def _base(ctx: CheckContext) -> tuple[str, AggregateMetric]:
    found = ctx.base_metric(ctx.nsm)
    if found is None:
        raise NotEvaluated(f"'{ctx.nsm}' is not built on a count or sum of a source")
    return found


@rule("not-for-all-customers", "data", "A segment of customers rarely reaches the North Star's value.")
def not_for_all_customers(ctx: CheckContext) -> Iterator[Finding]:
    """Segments are values of the customer dimensions only: an event attribute (type, page) is
    not a group of customers (see checks/attributes.py)."""
    name, base = _base(ctx)
    source = ctx.spec.sources[base.source]
    if not source.entity:
        raise NotEvaluated(f"source '{base.source}' declares no `entity`, so customers cannot be counted")
    if not source.dimensions:
        raise NotEvaluated(f"source '{base.source}' declares no `dimensions` to compare segments")
    customer, events = split_dimensions(ctx.project, base.source, ctx.grain)
    if not customer:
        raise NotEvaluated(f"every dimension of '{base.source}' describes events, not customers: "
                           + "; ".join(f"{k.dimension} ({k.reason})" for k in events))
    left_out = ("" if not events else " Left out as event attributes, not customer segments: "
                + "; ".join(f"{k.dimension} ({k.reason})" for k in events) + ".")
    first, last = _window(ctx, [ctx.nsm])
    frames = reach_by_segment(ctx, base.source, {name: base}, first, last, dimensions=customer)
    overall = frames.pop("")
    reach_all = overall[f"reached:{name}"] / overall["active"]
    value_all = overall[f"value:{name}"] / overall["periods_active"] if base.agg in ("count", "sum") else None
    for dim, totals in frames.items():
        share = totals["active"] / overall["active"]
        for segment, row in sorted(totals.iterrows(), key=lambda item: str(item[0])):  # same order on every engine
            if row["active"] < MIN_ENTITIES or share[segment] < MIN_SHARE:
                continue
            reach = row[f"reached:{name}"] / row["active"]
            value = row[f"value:{name}"] / row["periods_active"] if value_all is not None else None
            low_reach = (reach < REACH_RATIO * reach_all
                         and _binomial_p(row[f"reached:{name}"], row["active"], reach_all) < ctx.spec.checks.significance)
            if not low_reach:
                continue
            label = f"{dim} = {_plain(segment)}"
            detail = (f"only {reach:.0%} of its {int(row['active']):,} active customers ever reached it, against "
                      f"{reach_all:.0%} overall")
            yield Finding(
                "not-for-all-customers", "warning", label,
                f"'{ctx.nsm}' does not hold for {label}: {detail} ({share[segment]:.0%} of active customers, "
                f"{first} to {last}). The value must hold for the whole target group, like an anti-algae product "
                "that works in fish ponds but not in swimming pools." + left_out,
                f"Find out why {label} does not get the value (onboarding, fit, a bug), or narrow the target group "
                f"and say so in `customer_value`; `northstar query {name} --by {dim}` shows the series.",
                {"dimension": dim, "segment": _plain(segment), "active_customers": int(row["active"]),
                 "reach": round(float(reach), 4), "reach_overall": round(float(reach_all), 4),
                 "share_of_active": round(float(share[segment]), 4),
                 f"value_per_customer_{ctx.grain}": None if value is None else round(float(value), 4),
                 f"value_per_customer_{ctx.grain}_overall": None if value_all is None else round(float(value_all), 4),
                 "from": first.isoformat(), "to": last.isoformat(), "customer_dimensions": list(customer),
                 "event_dimensions": {k.dimension: k.to_dict() for k in events}})


def _binomial_p(reached: float, active: float, expected: float) -> float:
    """One-sided p-value that the segment's reach is this low by chance at the overall rate."""
    from scipy import stats  # 0.6 s to import: only when a segment is tested

    return float(stats.binomtest(int(reached), int(active), min(expected, 1.0), alternative="less").pvalue)


def _plain(value: object) -> object:
    return None if pd.isna(value) else (value.item() if hasattr(value, "item") else value)


@rule("external-dependency", "data", "Most of the North Star comes from one channel, partner or source.")
def external_dependency(ctx: CheckContext) -> Iterator[Finding]:
    name, base = _base(ctx)
    metric = ctx.nsm if not is_ratio(ctx, ctx.nsm) else name
    source = ctx.spec.sources[base.source]
    configured = ctx.spec.checks.external_dimensions
    if configured is None:
        raise NotEvaluated("which dimensions name outside parties (channels, partners, stores) is a fact about "
                           "the business that neither names nor data tell: list them in "
                           f"`checks.external_dimensions` (dimensions of '{base.source}': "
                           f"{', '.join(source.dimensions) or 'none'}), or [] for none")
    dims = [d for d in source.dimensions if d in configured]
    if not dims:
        if not configured:
            return  # `external_dimensions: []`: nothing outside the team's control
        raise NotEvaluated(f"none of `checks.external_dimensions` ({', '.join(configured)}) is a dimension of "
                           f"'{base.source}', the source of '{name}'")
    first, last = _window(ctx, [ctx.nsm])
    for dim in dims:
        frame = ctx.project.query([metric], grain=ctx.grain, by=[dim], start=first, end=last)
        totals = frame.groupby(dim, dropna=False)[metric].sum().sort_values(ascending=False)
        total = totals.sum()
        if total <= 0:
            continue
        shares = totals / total
        candidates = [(s, v) for s, v in shares.items() if str(_plain(s)).strip().lower() not in NEUTRAL]
        if not candidates or candidates[0][1] <= 0.5:
            continue
        segment, top = candidates[0]
        yield Finding(
            "external-dependency", "warning", f"{dim} = {segment}",
            f"{top:.0%} of '{metric}' comes from {dim} = {segment}: the North Star depends on one external "
            "party, so it moves with that party's decisions rather than with the team's work.",
            f"Grow the other {dim} values (or organic use) and watch '{metric}' by {dim}; if {segment} is "
            "your product's core, remove the dimension from `checks.external_dimensions`.",
            {"dimension": dim, "segment": _plain(segment), "share": round(float(top), 4),
             "shares": {str(_plain(s)): round(float(v), 4) for s, v in shares.head(5).items()},
             "from": first.isoformat(), "to": last.isoformat()})


@rule("duplicate-inflation", "data", "The North Star counts events repeated for the same customer within seconds.")
def duplicate_inflation(ctx: CheckContext) -> Iterator[Finding]:
    ctx.require_data()
    seen: set[tuple[str, str | None]] = set()
    within = parse_duration(ctx.spec.checks.duplicate_within)
    for name, metric in ctx.base_metrics(ctx.nsm):
        if metric.agg not in ("count", "sum", "avg") or (metric.source, metric.where) in seen:
            continue
        seen.add((metric.source, metric.where))
        source = ctx.spec.sources[metric.source]
        if not source.entity:
            raise NotEvaluated(f"source '{metric.source}' declares no `entity` to find repeats of")
        frame = _repeats(ctx, metric, within)
        finding = _judge_repeats(ctx, name, frame, list(source.dimensions), within)
        if finding is not None:
            yield finding


def _repeats(ctx: CheckContext, metric: AggregateMetric, within: dt.timedelta) -> pd.DataFrame:
    """Rows and repeats (same entity, within `within` of its previous qualifying event) per period
    and combination of the source's dimensions, over the complete periods; kept per period
    (`engine.kept`: a change reaches the periods up to `within` after it)."""
    engine = ctx.project.engine
    bounds = engine.data_bounds(metric.source)
    last = ctx.project.last_final_period(ctx.nsm, ctx.grain)
    source = ctx.spec.sources[metric.source]
    if bounds is None or period_start(bounds[0].date(), ctx.grain) > last:
        return pd.DataFrame(columns=[PERIOD, *source.dimensions, "rows", "repeats"])
    first = period_start(bounds[0].date(), ctx.grain)
    what = ["repeats", metric.where, within.total_seconds()]
    frame = kept(engine, metric.source, what, ctx.grain, first, last,
                 lambda lo, hi: _count_repeats(ctx, metric, within, lo, hi), Touch(ahead=within))
    return frame.rename(columns={"period": PERIOD})


def _count_repeats(ctx: CheckContext, metric: AggregateMetric, within: dt.timedelta, first: dt.date,
                   last: dt.date) -> pd.DataFrame:
    """The counts of the periods first..last, reading the rows from `within` before them (the
    event before a period's first one may be a repeat's original)."""
    source = ctx.spec.sources[metric.source]
    engine = ctx.project.engine
    columns = {source.entity, source.timestamp, *source.dimensions,
               *(parse_sql(metric.where).columns if metric.where else ())}
    table = engine.prepared(metric.source, None, ctx.grain, sorted(c for c in columns if c))
    reads_from = period_start((dt.datetime.combine(first, dt.time()) - within).date(), ctx.grain)
    table = engine.in_periods(metric.source, table, reads_from, last, ctx.grain)
    if metric.where:
        table = table.filter(to_ibis(metric.where, table))
    window = ibis.window(group_by=table[source.entity], order_by=table[INSTANT])
    gap = table[INSTANT].delta(table[INSTANT].lag().over(window), unit="millisecond")
    table = table.mutate(__repeat=(gap <= int(within.total_seconds() * 1000)).fill_null(False).cast("int64"))
    keys = [PERIOD, *source.dimensions]
    expr = table.group_by(keys).aggregate(rows=table.count(), repeats=table["__repeat"].sum())
    frame = engine.backend.execute(expr, what=f"finding repeated events of {metric.source}")
    frame["period"] = pd.to_datetime(frame.pop(PERIOD)).dt.date
    frame = frame[(frame["period"] >= first) & (frame["period"] <= last)]
    return frame[["period", *source.dimensions, "rows", "repeats"]].reset_index(drop=True)


def _judge_repeats(ctx: CheckContext, name: str, frame: pd.DataFrame, dims: list[str],
                   within: dt.timedelta) -> Finding | None:
    per_period = frame.groupby(PERIOD)[["rows", "repeats"]].sum()
    per_period = per_period[per_period["rows"] > 0]
    if per_period.empty:
        return None
    share = per_period["repeats"] / per_period["rows"]
    overall = per_period["repeats"].sum() / per_period["rows"].sum()
    typical = float(share.median())
    threshold = max(0.01, 3 * typical)
    spikes = share[(share > threshold) & (per_period["repeats"] >= 20)]
    if overall <= 0.02 and spikes.empty:
        return None
    worst = share.idxmax() if spikes.empty else spikes.idxmax()
    where = _where_repeats(frame[frame[PERIOD] == worst], dims)
    seconds = f"{within.total_seconds():g} s"
    periods = [p.isoformat() for p in spikes.index]
    text = (f"{share[worst]:.1%} of the events behind '{name}' in the {ctx.grain} of {worst} repeat the same "
            f"customer's previous one within {seconds} (typically {typical:.2%})")
    if where:
        text += f", mostly {where['segment']} ({where['share']:.0%} there against {where['elsewhere']:.1%} elsewhere)"
    if overall > 0.02:
        text += f"; over all periods {overall:.1%} are such repeats"
    return Finding(
        "duplicate-inflation", "warning", name,
        text + ". Repeats seconds apart are usually double logging (a bug inflates the count like a double "
        "download), not value delivered.",
        "Deduplicate at the source or in the metric (e.g. count distinct event ids), fix the logging, and "
        f"mark the affected {ctx.grain}s when reading the trend.",
        {"worst_period": worst.isoformat(), "repeat_share": round(float(share[worst]), 4),
         "typical_share": round(typical, 5), "overall_share": round(float(overall), 5), "within_seconds":
         within.total_seconds(), "periods": periods, "segment": where})


def _where_repeats(rows: pd.DataFrame, dims: list[str]) -> dict | None:
    """The dimension value whose repeat share in these rows stands out most."""
    best = None
    for dim in dims:
        grouped = rows.groupby(dim, dropna=False)[["rows", "repeats"]].sum()
        for value, row in grouped.iterrows():
            rest = grouped.drop(index=value).sum()
            if row["rows"] == 0 or rest["rows"] == 0:
                continue
            inside, outside = row["repeats"] / row["rows"], rest["repeats"] / rest["rows"]
            score = row["repeats"] / max(rows["repeats"].sum(), 1) * (inside - outside)
            if best is None or score > best[0]:
                best = (score, {"segment": f"{dim} = {_plain(value)}", "share": round(float(inside), 4),
                                "elsewhere": round(float(outside), 4)})
    return best[1] if best and best[0] > 0 else None
