"""Period labels and counts for targets (calendar arithmetic, no engine)."""

from __future__ import annotations

import datetime as dt


from northstar.errors import QueryError


# ---- calendar: period labels without the engine ----------------------------------------------

def period_index(day: dt.date, grain: str) -> int:
    """An integer that grows by one per period of `grain` (differences count periods)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    if grain == "day":
        return day.toordinal()
    if grain == "week":
        return (day.toordinal() - day.weekday()) // 7
    months = day.year * 12 + day.month - 1
    if grain == "month":
        return months
    if grain == "quarter":
        return months // 3
    if grain == "year":
        return day.year
    raise ValueError(f"unknown grain '{grain}'")


def period_of(day: dt.date, grain: str) -> dt.date:
    """The first day of the period containing `day`."""
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "year":
        return day.replace(month=1, day=1)
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def periods_apart(first: dt.date, last: dt.date, grain: str) -> int:
    """How many periods from the period of `first` to the period of `last`."""
    return period_index(last, grain) - period_index(first, grain)


def check_target_date(by: dt.date, last_period: dt.date, grain: str) -> int:
    """The number of periods to the target period; an error unless it is after `last_period`."""
    periods = periods_apart(last_period, by, grain)
    if periods < 1:
        raise QueryError(f"the target date {by.isoformat()} is not after the last complete {grain} "
                         f"({last_period.isoformat()}): pass a later --by")
    return periods
