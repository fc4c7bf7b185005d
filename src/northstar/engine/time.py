"""Time: from a source's timestamp column to the instant, the local time and the period.

Periods are cut in the spec's time zone; weeks start on Monday (ISO); a year is the calendar
year. The Python helpers here do calendar arithmetic on period labels (the date of a
period's first day). How the time column itself is read (epochs, yyyymmdd, patterns) is in
`timestamps.py`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir

from northstar.engine.backends import Backend
from northstar.engine.timestamps import parsed_time
from northstar.spec.model import Source

_TRUNC = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class EventTime:
    """Ibis expressions for one source's event time."""

    instant: ir.TimestampValue  # naive UTC (for durations such as conversion windows)
    local: ir.TimestampValue  # naive wall-clock time in the spec's zone (for periods)
    # How local follows from instant, when it is known: "" (the same), or a zone name (the
    # instant plus that zone's offset). Lets a bound on local time become a bound on the
    # instant, which is far cheaper to test than the per-row local-time expression.
    rule: str | None = None


def instant_bound(local: dt.datetime, rule: str | None) -> dt.datetime | None:
    """The instant at which local time reaches `local`, when no offset change lies within a
    day of it (then the two bounds select the same rows); None otherwise."""
    if rule is None:
        return None
    if rule == "":
        return local
    segments = utc_offsets(rule, local - dt.timedelta(days=2), local + dt.timedelta(days=2))
    if len(segments) != 1:
        return None
    return local - segments[0][1]


def utc_offsets(zone: str, first: dt.datetime, last: dt.datetime) -> list[tuple[dt.datetime | None, dt.timedelta]]:
    """The zone's UTC offsets between two UTC instants: [(from_instant, offset), ...].

    The first entry has `None` (applies to everything before the next one). Transitions are
    found by stepping six hours at a time and bisecting to the second.
    """
    tz = zoneinfo.ZoneInfo(zone)

    def offset(instant: dt.datetime) -> dt.timedelta:
        return instant.replace(tzinfo=dt.timezone.utc).astimezone(tz).utcoffset() or dt.timedelta(0)

    start, end = first - dt.timedelta(days=2), last + dt.timedelta(days=2)
    segments: list[tuple[dt.datetime | None, dt.timedelta]] = [(None, offset(start))]
    step = dt.timedelta(hours=6)
    current = start
    while current < end:
        nxt = min(current + step, end)
        if offset(nxt) != segments[-1][1]:
            lo, hi = current, nxt  # offset(lo) is the old one, offset(hi) the new one
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if offset(mid) == segments[-1][1]:
                    lo = mid
                else:
                    hi = mid
            segments.append((hi.replace(microsecond=0), offset(hi)))
        current = nxt
    return segments


def shift_by_offsets(instant: ir.TimestampValue, segments: list[tuple[dt.datetime | None, dt.timedelta]]) -> ir.TimestampValue:
    """Wall-clock time from a naive UTC instant: instant + the offset in force (a CASE on instants).

    Portable to every engine and much faster than a per-row time-zone lookup.
    """
    def plus(delta: dt.timedelta) -> ir.TimestampValue:
        seconds = int(delta.total_seconds())
        return instant if seconds == 0 else instant + ibis.interval(seconds=seconds)

    if len(segments) == 1:
        return plus(segments[0][1])
    branches = [(instant < segments[i + 1][0], plus(segments[i][1])) for i in range(len(segments) - 1)]
    return ibis.cases(*branches, else_=plus(segments[-1][1]))


def event_time(backend: Backend, table: ir.Table, source: Source, zone: str,
               instant_range: tuple[dt.datetime, dt.datetime] | None = None) -> EventTime:
    """Instant and local time of a source's events.

    With the data's instant range known, local time is the instant plus the zone's offset
    (exact: the offsets in force over that range are enumerated); otherwise the engine's own
    time-zone conversion is used.
    """
    def to_local(instant: ir.TimestampValue, aware: ir.TimestampValue | None = None) -> ir.TimestampValue:
        if zone == "UTC":
            return instant
        if instant_range is not None:
            return shift_by_offsets(instant, utc_offsets(zone, *instant_range))
        return backend.utc_to_local(aware if aware is not None else instant, zone)

    exact = "" if zone == "UTC" else (zone if instant_range is not None else None)

    column, meaning = parsed_time(backend, table[source.timestamp], source)
    if meaning == "instant":
        return EventTime(column, to_local(column), exact)
    if meaning == "date":
        # A calendar date is already a local date: no time-zone conversion.
        local = column.cast(idt.Timestamp())
        return EventTime(local, local, "")
    if meaning == "aware":
        instant = column.cast(idt.Timestamp())
        return EventTime(instant, to_local(instant, column), exact)
    recorded_in = source.timezone or "UTC"
    if recorded_in == zone:
        instant = column if zone == "UTC" else backend.local_to_utc(column, zone).cast(idt.Timestamp())
        return EventTime(instant, column)
    if recorded_in == "UTC":
        return EventTime(column, to_local(column), exact)
    utc = backend.local_to_utc(column, recorded_in)
    return EventTime(utc.cast(idt.Timestamp()), backend.utc_to_local(utc, zone))


def period_of(local: ir.TimestampValue, grain: str) -> ir.DateValue:
    return local.truncate(_TRUNC[grain]).date()


def window_of(local: ir.TimestampValue, windows: tuple[tuple[dt.date, dt.date], ...]) -> ir.Value:
    """The label (first day) of the window [first, end) holding each local time; null outside
    every window (windows are whole local days and do not overlap)."""
    branches = [((local >= dt.datetime.combine(lo, dt.time())) & (local < dt.datetime.combine(hi, dt.time())),
                 ibis.literal(lo, type="date")) for lo, hi in windows]
    return ibis.cases(*branches, else_=ibis.null("date"))


def shift_period_expr(period: ir.DateValue, grain: str, n: int = 1) -> ir.Value:
    if grain == "day":
        return period + ibis.interval(days=n)
    if grain == "week":
        return period + ibis.interval(weeks=n)
    return period + ibis.interval(months=_MONTHS[grain] * n)


# ---- calendar arithmetic on period labels -------------------------------------------------

def period_start(day: dt.date, grain: str) -> dt.date:
    if isinstance(day, dt.datetime):
        day = day.date()
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    if grain == "year":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown grain '{grain}'")


def shift_period(start: dt.date, grain: str, n: int = 1) -> dt.date:
    if grain == "day":
        return start + dt.timedelta(days=n)
    if grain == "week":
        return start + dt.timedelta(weeks=n)
    months = n * _MONTHS[grain]
    index = start.year * 12 + (start.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_range(first: dt.date, last: dt.date, grain: str) -> list[dt.date]:
    """Every period label from the period of `first` to the period of `last`."""
    out: list[dt.date] = []
    current, end = period_start(first, grain), period_start(last, grain)
    while current <= end:
        out.append(current)
        current = shift_period(current, grain)
    return out


def same_period_last_year(start: dt.date, grain: str) -> dt.date:
    """Day: 364 days earlier (same weekday); week: 52 weeks; month: 12 months; quarter: 4;
    year: the previous year."""
    return shift_period(start, grain, -periods_per_year(grain))


def periods_per_year(grain: str) -> int:
    return {"day": 364, "week": 52, "month": 12, "quarter": 4, "year": 1}[grain]


def to_date(value: object) -> dt.date:
    """A date from a date, datetime, pandas Timestamp or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()  # type: ignore[union-attr]
    return dt.date.fromisoformat(str(value)[:10])
