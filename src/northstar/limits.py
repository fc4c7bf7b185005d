"""How much one request may ask for: its periods clipped to the data, its rows capped.

A series has one row per period and segment (every period crossed with every segment found),
so `from=1900-01-01&to=2999-12-31&grain=day&by=a,b,c,d` once built 400,000 empty days times
every segment in memory (9.8 GB) before answering. The web API and `northstar query` therefore
bound every request before computing it:

- its `from`/`to` are clipped to the data of the metrics' sources (a period the data does not
  reach has nothing to show; a range that misses the data entirely is an error naming what the
  data covers), which also keeps dates such as 0001-01-01 or 9999-12-31 away from calendar
  arithmetic that would overflow;
- periods x segments may not exceed `MAX_ROWS`: the segments are counted by one cheap distinct
  query per source over the range the engine would read, and a request over the limit is a
  one-line error with the number of rows it would return;
- cohorts likewise: cohorts x later periods may not exceed `MAX_ROWS`.

Messages name the CLI's flags (`--by: ...`); the web app names the parameter (`by: ...`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from northstar.engine.plan import MetricQuery, make_plan
from northstar.engine.time import period_start, same_period_last_year, shift_period, to_date
from northstar.errors import DataError, QueryError
from northstar.spec.model import AggregateMetric, RetentionMetric

if TYPE_CHECKING:
    from northstar.engine.engine import MetricEngine
    from northstar.project import Project

MAX_ROWS = 200_000
_PLURAL = {"day": "days", "week": "weeks", "month": "months", "quarter": "quarters", "year": "years"}


@dataclass(frozen=True)
class Size:
    """What a bounded query returns: its periods, its segments (1 without `by`) and rows."""

    query: MetricQuery
    periods: int
    segments: int

    @property
    def rows(self) -> int:
        return self.periods * self.segments


def _amount(rows: int) -> str:
    if rows >= 1_000_000:
        return f"{rows / 1_000_000:.1f} million"
    return f"{rows:,}"


def _periods_between(first: dt.date, last: dt.date, grain: str) -> int:
    """The number of periods from the period of `first` to the period of `last`, by arithmetic."""
    a, b = period_start(first, grain), period_start(last, grain)
    if b < a:
        return 0
    if grain == "day":
        return (b - a).days + 1
    if grain == "week":
        return (b - a).days // 7 + 1
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    return ((b.year - a.year) * 12 + (b.month - a.month)) // months + 1


def data_days(engine: MetricEngine, sources: list[str]) -> tuple[dt.date, dt.date] | None:
    """The first and last local day with an event in any of `sources` (None: no events)."""
    bounds = [b for b in (engine.data_bounds(s) for s in sources) if b is not None]
    if not bounds:
        return None
    return min(b[0] for b in bounds).date(), max(b[1] for b in bounds).date()


def clip(engine: MetricEngine, query: MetricQuery) -> MetricQuery:
    """The query with `start`/`end` inside the data of its sources (the same periods with data).

    A range that misses the data entirely is a QueryError naming the flag and what the data
    covers: there is nothing to show, and no empty answer should look like one."""
    plan = make_plan(engine.spec, query)  # unknown metrics, dimensions and a reversed range first
    days = data_days(engine, list(plan.by_source))
    if days is None:
        return query
    first_day, last_day = days
    span = f"the data covers {first_day.isoformat()} to {last_day.isoformat()}"
    if (query.start is not None and query.start > last_day) or (query.end is not None and query.end < first_day):
        flag = "--from" if query.start is not None and query.start > last_day else "--to"
        asked = f"from {query.start or 'the start'} to {query.end or 'the end'}"
        raise QueryError(f"{flag}: no period {asked} has data: {span}")
    start = query.start if query.start is not None and query.start > first_day else None
    end = query.end if query.end is not None and query.end < last_day else None
    return replace(query, start=start, end=end)


def _read_from(engine: MetricEngine, query: MetricQuery, first: dt.date, data_first: dt.date) -> dt.date:
    """The first period the engine reads for a query whose first period is `first` (its grid
    holds every segment found from there): a year back with `compare`, the data's start for a
    cumulative metric, one period back for a retention."""
    plan = make_plan(engine.spec, query)
    grain = query.grain
    read = first
    if query.compare:
        read = min(read, same_period_last_year(first, grain), shift_period(first, grain, -1))
    metrics = [engine.spec.metrics[n] for n in plan.order]
    if any(isinstance(m, AggregateMetric) and m.cumulative for m in metrics):
        read = min(read, period_start(data_first, grain))
    if any(isinstance(m, RetentionMetric) for m in metrics):
        read = shift_period(read, grain, -1)
    return read


def size(engine: MetricEngine, query: MetricQuery) -> Size:
    """Periods and segments of a query's answer (after `clip`): segments are the distinct
    combinations of the `by` dimensions in the rows the engine reads, across the sources."""
    query = clip(engine, query)
    plan = make_plan(engine.spec, query)
    days = data_days(engine, list(plan.by_source))
    if days is None:
        return Size(query, 0, 0)
    grain = query.grain
    first = period_start(query.start or days[0], grain)
    last = period_start(query.end or days[1], grain)
    periods = _periods_between(first, last, grain)
    if not query.by or periods == 0:
        return Size(query, periods, 1 if periods else 0)
    read = _read_from(engine, query, first, days[0])
    return Size(query, periods, _segments(engine, query, list(plan.by_source), read, last))


def _segments(engine: MetricEngine, query: MetricQuery, sources: list[str], first: dt.date, last: dt.date) -> int:
    keys = list(query.by)
    parts = []
    for name in sources:
        source = engine.spec.sources[name]
        columns = [*keys, *([source.timestamp] if source.timestamp else [])]
        table = engine.prepared(name, query.where, query.grain, columns)
        rows = engine.in_periods(name, table, first, last, query.grain)
        parts.append(rows.select(*[rows[k].cast("string").name(k) for k in keys]))
    union = parts[0].union(*parts[1:], distinct=True) if len(parts) > 1 else parts[0].distinct()
    try:
        found = engine.backend.execute(union.count(), what=f"counting the segments of {', '.join(keys)}")
    except DataError:
        blame = getattr(engine, "_blame_filter", None)  # the caller's `where` failing is theirs: a FilterError
        if query.where and blame is not None:
            blame(make_plan(engine.spec, query))
        raise
    return int(found)


def bounded(engine: MetricEngine, query: MetricQuery, limit: int = MAX_ROWS) -> MetricQuery:
    """The query clipped to the data, or a QueryError when its answer would exceed `limit` rows."""
    found = size(engine, query)
    if found.rows <= limit:
        return found.query
    grain = query.grain
    breakdown = (f"{len(query.by)} dimension{'s' if len(query.by) > 1 else ''} ({found.segments:,} segments)"
                 if query.by else "no breakdown")
    flag = "--by" if query.by else "--grain"
    raise QueryError(f"{flag}: {breakdown} at {grain} grain over {found.periods:,} {_PLURAL[grain]} would return "
                     f"{_amount(found.rows)} rows; the limit is {limit:,}: narrow the range (--from/--to), "
                     "the grain or the breakdown")


def bounded_cohorts(engine: MetricEngine, metric: str, grain: str, start: dt.date | None, end: dt.date | None,
                    limit: int = MAX_ROWS) -> tuple[dt.date | None, dt.date | None]:
    """Cohort `start`/`end` clipped to the data of the metric's source, or a QueryError when
    cohorts x later periods (an upper bound of the rows) would exceed `limit`."""
    from northstar.engine.cohorts import check_entity_metric, check_grain

    check_grain(grain)
    if start is not None and end is not None and start > end:
        raise QueryError(f"--from {start} is after --to {end}")
    days = data_days(engine, [check_entity_metric(engine.spec, metric).source])
    if days is None:
        return start, end
    first_day, last_day = days
    span = f"the data covers {first_day.isoformat()} to {last_day.isoformat()}"
    if start is not None and start > last_day:
        raise QueryError(f"--from: {start.isoformat()} is after the data ends: {span}")
    if end is not None and end < first_day:
        raise QueryError(f"--to: {end.isoformat()} is before the data starts: {span}")
    start = start if start is not None and start > first_day else None
    end = end if end is not None and end < last_day else None
    first = _periods_between(first_day, start or first_day, grain)  # 1 = the data's first period
    cohorts = _periods_between(start or first_day, end or last_day, grain)
    total = _periods_between(first_day, last_day, grain)
    # cohort i (1-based from the data's first period) sees total - i + 1 periods (offset 0 included)
    rows = sum(total - i + 1 for i in range(first, first + cohorts))
    if rows > limit:
        raise QueryError(f"--grain: {cohorts:,} {grain} cohorts over {total:,} {_PLURAL[grain]} would return up to "
                         f"{_amount(rows)} rows; the limit is {limit:,}: narrow the range (--from/--to) or use a "
                         "coarser grain")
    return start, end


def _parse(value: object, flag: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return to_date(value)
    except ValueError:
        raise QueryError(f"{flag}: '{value}' is not a date; write YYYY-MM-DD") from None


def query_range(project: Project, metrics: Sequence[str], grain: str | None = None, by: Sequence[str] = (),
                where: str | None = None, start: object = None, end: object = None, compare: bool = False,
                limit: int = MAX_ROWS) -> tuple[dt.date | None, dt.date | None]:
    """`Project.query`'s `start`/`end` for a request, bounded (see `bounded`); None = the data's edge."""
    query = MetricQuery(metrics=tuple(metrics), grain=grain or project.spec.north_star.grain, by=tuple(by),
                        where=where or None, start=_parse(start, "--from"), end=_parse(end, "--to"), compare=compare)
    make_plan(project.spec, query)  # the request's own mistakes first, before an engine starts (a JVM for Spark)
    found = bounded(project.engine, query, limit)
    return found.start, found.end


def cohort_range(project: Project, metric: str, grain: str | None = None, start: object = None, end: object = None,
                 limit: int = MAX_ROWS) -> tuple[dt.date | None, dt.date | None]:
    """`Project.cohorts`'s `start`/`end` for a request, bounded (see `bounded_cohorts`). The metric,
    grain and dates are checked before an engine starts (a JVM for Spark prints to stderr)."""
    from northstar.engine.cohorts import check_entity_metric, check_grain

    chosen = grain or project.spec.north_star.grain
    check_grain(chosen)
    check_entity_metric(project.spec, metric)
    first, last = _parse(start, "--from"), _parse(end, "--to")
    if first is not None and last is not None and first > last:
        raise QueryError(f"--from {first} is after --to {last}")
    return bounded_cohorts(project.engine, metric, chosen, first, last, limit)
