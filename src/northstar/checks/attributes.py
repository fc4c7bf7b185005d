"""Which dimensions describe a customer (plan, country, channel) and which an event (type, page)?

Rules about customers compare customer segments; an event attribute is not a segment of
customers: "customers with a question" and "customers with an answer" are mostly the same people,
so a rule that treats `PostTypeId = 1` as a customer segment that "rarely reaches answering"
reports the event type, not a group of customers the product fails.

A source may say so: `event_dimensions: [type, page]` (a subset of `dimensions`; the others
describe the customer). Without the key it is measured, in one query through the engine: among
the customer-periods in which a customer has at least 2 events, the share in which the dimension
shows more than one value. A customer's plan or country changes now and then (free -> paid), so
this share stays small for customer attributes however long the history; an event attribute
varies in most busy periods. It is measured over the complete periods (the last, partial one
left out, so that a new day of data keeps the measurement). By week (this module, on the real
data and the demo; sparkify's share rose from 2.8% when its partial last week counted):

| data | dimension | share of customer-weeks | share of customers ever |
|---|---|---|---|
| demo (2 years) | country, platform, channel | 0% | 0% |
| demo | plan (free -> trial -> premium, a weekly plan) | 7.5% | 54% |
| sparkify (1 month) | level (free -> paid) | 3.6% | 9.1% |
| sparkify | gender, location | 0% | 0% |
| Stack Exchange posts | PostTypeId (question, answer) | 43% | 69% |
| Stack Exchange posts and comments | question / answer / comment | 67% | 84% |
| sparkify | page | 84% | 91% |

A dimension is an event attribute when that share exceeds 20% (about the geometric middle of the
gap between 7.5%, the most a customer attribute showed, and 43%, the least an event attribute did;
10% left the demo's weekly plan too close). The period is the North Star's grain, but at most a week: a longer
period gives customers time to change plan inside it (demo plan: 7.6% of customer-months, 13.7%
of customer-quarters; sparkify level: 8.3% of customer-months), which would blur the two kinds.
The share of customers who *ever* show two values in one period is reported but not used: it
grows with the history for customer attributes (a plan change once in two years counts), from
9.1% in one month of sparkify to 29% in two years of the demo. With fewer than 10 busy
customer-periods the data cannot tell, and the dimension is taken as a customer attribute, as
the spec's `dimensions` are by default. A null or empty entity is no customer.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from northstar.engine.compile import PERIOD
from northstar.engine.kept import kept
from northstar.engine.time import period_start, shift_period

EVENT_SHARE = 0.20
MIN_BUSY_PERIODS = 10
MEASURE_GRAIN = {"day": "day", "week": "week"}  # coarser grains are measured by week (see above)

Kind = Literal["customer", "event"]
How = Literal["declared", "measured", "too little data"]


@dataclass(frozen=True)
class DimensionKind:
    """What a dimension describes, how that was decided, and the measurement behind it."""

    dimension: str
    kind: Kind
    how: How
    grain: str | None = None
    busy_periods: int = 0  # customer-periods with at least 2 events
    varying_periods: int = 0  # ... of which show several values of the dimension
    busy_customers: int = 0  # customers with at least one such period
    varying_customers: int = 0  # ... of which show several values in at least one

    @property
    def share(self) -> float | None:
        return self.varying_periods / self.busy_periods if self.busy_periods else None

    @property
    def customer_share(self) -> float | None:
        return self.varying_customers / self.busy_customers if self.busy_customers else None

    @property
    def reason(self) -> str:
        """Why, in words: 'the spec says so' or the measurement."""
        if self.how == "declared":
            return ("the spec lists it in `event_dimensions`" if self.kind == "event"
                    else "the spec leaves it out of `event_dimensions`")
        if self.how == "too little data":
            return (f"only {self.busy_periods} customer-{self.grain}s with 2 or more events, too few to tell; "
                    "taken as a customer attribute")
        share = self.share or 0.0
        return (f"measured: in {share:.1%} of the customer-{self.grain}s with 2 or more events it has several "
                f"values ({self.varying_customers:,} of {self.busy_customers:,} customers)")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "how": self.how, "grain": self.grain, "busy_periods": self.busy_periods,
                "share_of_periods": None if self.share is None else round(self.share, 4),
                "share_of_customers": None if self.customer_share is None else round(self.customer_share, 4),
                "reason": self.reason}


# One measurement per engine (its data) and source and grain, for every rule and analysis.
_MEASURED: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], dict[str, DimensionKind]]] = (
    weakref.WeakKeyDictionary())


def dimension_kinds(project: Any, source: str, grain: str | None = None) -> dict[str, DimensionKind]:
    """{dimension: DimensionKind} for every dimension of `source`: declared by the source's
    `event_dimensions`, else measured per day at the day grain, else per week (default grain:
    the North Star's)."""
    spec = project.spec
    declared = spec.sources[source]
    if declared.event_dimensions is not None:
        events = set(declared.event_dimensions)
        return {d: DimensionKind(d, "event" if d in events else "customer", "declared") for d in declared.dimensions}
    grain = MEASURE_GRAIN.get(grain or spec.north_star.grain, "week")
    if not declared.dimensions or not declared.entity:
        return {}
    cache = _MEASURED.setdefault(project.engine, {})
    if (source, grain) not in cache:
        cache[(source, grain)] = _measure(project, source, grain)
    return cache[(source, grain)]


def split_dimensions(project: Any, source: str, grain: str | None = None
                     ) -> tuple[tuple[str, ...], tuple[DimensionKind, ...]]:
    """(the customer dimensions, the event dimensions left out with why) of a source."""
    kinds = dimension_kinds(project, source, grain)
    dims = project.spec.sources[source].dimensions
    customer = tuple(d for d in dims if d not in kinds or kinds[d].kind == "customer")
    return customer, tuple(kinds[d] for d in dims if d in kinds and kinds[d].kind == "event")


def _measure(project: Any, source: str, grain: str) -> dict[str, DimensionKind]:
    """One query: per customer and period the rows and the distinct values of each dimension,
    then over the busy customer-periods (2+ rows) how many show several values. Over the
    complete periods (all of the data when it holds none), kept (`engine.kept`) until their
    data changes: a new day of the current period keeps it."""
    declared = project.spec.sources[source]
    engine = project.engine
    bounds = engine.data_bounds(source)
    if bounds is None:
        row = pd.Series(dtype=float)
    else:
        first = period_start(bounds[0].date(), grain)
        last = shift_period(period_start((bounds[1] + dt.timedelta(days=1)).date(), grain), grain, -1)
        last = last if last >= first else period_start(bounds[1].date(), grain)
        row = kept(engine, source, ["dimension kinds"], grain, first, last,
                   lambda lo, hi: _count(project, source, grain, lo, hi), whole=True).iloc[0]

    def whole(value: Any) -> int:
        return 0 if value is None or pd.isna(value) else int(value)  # null: no busy period at all

    out = {}
    periods, customers = whole(row.get("periods")), whole(row.get("customers"))
    for i, dim in enumerate(declared.dimensions):
        varying = whole(row.get(f"periods{i}"))
        if periods < MIN_BUSY_PERIODS:
            kind, how = "customer", "too little data"
        else:
            kind, how = ("event" if varying / periods > EVENT_SHARE else "customer"), "measured"
        out[dim] = DimensionKind(dim, kind, how, grain, periods, varying, customers, whole(row.get(f"customers{i}")))
    return out


def _count(project: Any, source: str, grain: str, first: Any, last: Any) -> pd.DataFrame:
    declared = project.spec.sources[source]
    entity, dims = declared.entity, list(declared.dimensions)
    engine = project.engine
    table = engine.prepared(source, None, grain, list(dict.fromkeys([entity, declared.timestamp, *dims])))
    table = engine.in_periods(source, table, first, last, grain)
    table = table.filter(table[entity].notnull(), table[PERIOD].notnull())
    if table[entity].type().is_string():  # an empty id (Sparkify's logged-out events) is no customer
        table = table.filter(table[entity] != "")
    per = table.group_by([table[entity].name("__entity"), table[PERIOD]]).aggregate(
        __rows=table.count(), **{f"__values{i}": table[d].nunique() for i, d in enumerate(dims)})
    busy = per.filter(per["__rows"] >= 2)
    counts: dict[str, Any] = {"periods": busy.count(), "customers": busy["__entity"].nunique()}
    for i in range(len(dims)):
        several = busy[f"__values{i}"] >= 2
        counts[f"periods{i}"] = several.cast("int64").sum()
        counts[f"customers{i}"] = busy["__entity"].nunique(where=several)
    return engine.backend.execute(busy.aggregate(**counts), what=f"measuring which dimensions of {source} "
                                  "describe customers").astype(float)
