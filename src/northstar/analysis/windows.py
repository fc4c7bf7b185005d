"""Rolling windows: the last 7 or 28 days, month to date and quarter to date, each against the
window before and the same window a year earlier.

One rule, used by every command, page and API route:

* **The end.** A window ends with the last complete local day of the North Star's data (the
  day rule of `northstar.analysis.periods`: the day of the data's last event), so every
  command compares the same days and never a partial day with whole ones.
* **The windows.** `7d`/`28d`: the 7 or 28 days to that day, against the 7 or 28 days before.
  `mtd`/`qtd`: the month or quarter from its first day to that day, against the same number
  of days from the first day of the month or quarter before (at most all of it: 31 March to
  date is compared with the whole of February). A year before: 364 days earlier for `7d` and
  `28d` (the same weekdays, like a day's or a week's last year), the same span of the month
  or quarter a year earlier for `mtd` and `qtd`.
* **Too little data.** A window that begins before the data's first day is *partial*: it has
  no value, and the reason says so, instead of a number that would count missing days as zero.

Pure functions of dates: the Project feeds them the data's bounds, the engine aggregates over
each window ([first day, day after the last) in local time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from northstar.engine.time import period_start, shift_period
from northstar.errors import QueryError

WINDOWS = ("7d", "28d", "mtd", "qtd")
_DAYS = {"7d": 7, "28d": 28}
_GRAIN = {"mtd": "month", "qtd": "quarter"}


@dataclass(frozen=True)
class Window:
    """Whole local days from `first` to `last` (both included)."""

    first: dt.date
    last: dt.date
    available: bool = True  # False: the data starts after `first`
    reason: str | None = None  # why it is not available

    @property
    def end(self) -> dt.date:
        """The day after the last: the window is [first, end) in local time."""
        return self.last + dt.timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def label(self) -> str:
        return span_text(self.first, self.last)

    def to_dict(self) -> dict[str, Any]:
        return {"first": self.first.isoformat(), "last": self.last.isoformat(), "days": self.days,
                "available": self.available, "reason": self.reason}


@dataclass(frozen=True)
class WindowComparison:
    """A rolling window, the window before it and the same window a year earlier."""

    kind: str
    current: Window
    previous: Window
    last_year: Window

    def sides(self) -> dict[str, Window]:
        return {"current": self.current, "previous": self.previous, "last_year": self.last_year}

    def description(self, against: str = "previous") -> str:
        """'7 days to 3 Dec 2026 vs the 7 days before' (what every output says)."""
        base = self.previous if against == "previous" else self.last_year
        if self.kind in _DAYS:
            now = f"{self.current.days} days to {day_text(self.current.last)}"
            then = (f"the {self.previous.days} days before" if against == "previous"
                    else f"the same {self.current.days} days a year before ({base.label()})")
        else:
            name = "month" if self.kind == "mtd" else "quarter"
            now = f"{name} to date ({self.current.label()})"
            then = (f"the same days of the {name} before ({base.label()})" if against == "previous"
                    else f"the same days a year before ({base.label()})")
        text = f"{now} vs {then}"
        if not self.current.available:
            text += f": no value, {self.current.reason}"
        elif not base.available:
            text += f": no comparison, {base.reason}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.kind, "description": self.description(), **{k: w.to_dict() for k, w in self.sides().items()}}


def check_window(kind: str, option: str = "--window") -> str:
    if kind not in WINDOWS:
        raise QueryError(f"{option}: '{kind}' is not one of {', '.join(WINDOWS)}")
    return kind


def day_text(day: dt.date) -> str:
    return f"{day.day} {day.strftime('%b')} {day.year}"


def span_text(first: dt.date, last: dt.date) -> str:
    """'1-3 Dec 2026', '28 Nov-3 Dec 2026', '29 Dec 2025-4 Jan 2026'."""
    if first == last:
        return day_text(last)
    if first.year != last.year:
        return f"{day_text(first)}-{day_text(last)}"
    if first.month != last.month:
        return f"{first.day} {first.strftime('%b')}-{day_text(last)}"
    return f"{first.day}-{day_text(last)}"


def rolling_windows(kind: str, last: dt.date, data_first: dt.date | None = None) -> WindowComparison:
    """The windows of `kind` ending on `last` (the last complete local day of the data); with
    `data_first`, windows starting before it are marked unavailable."""
    check_window(kind)
    if kind in _DAYS:
        n = _DAYS[kind]
        current = Window(last - dt.timedelta(days=n - 1), last)
        previous = Window(current.first - dt.timedelta(days=n), current.first - dt.timedelta(days=1))
        year = Window(current.first - dt.timedelta(days=364), last - dt.timedelta(days=364))
    else:
        grain = _GRAIN[kind]
        start = period_start(last, grain)
        current = Window(start, last)
        previous = _same_span(shift_period(start, grain, -1), grain, current.days)
        year = _same_span(shift_period(start, grain, -12 if grain == "month" else -4), grain, current.days)
    return WindowComparison(kind, *(_mark(w, data_first) for w in (current, previous, year)))


def _same_span(start: dt.date, grain: str, days: int) -> Window:
    """The first `days` days of the period starting on `start`, at most the whole period."""
    end_of_period = shift_period(start, grain, 1) - dt.timedelta(days=1)
    return Window(start, min(start + dt.timedelta(days=days - 1), end_of_period))


def _mark(window: Window, data_first: dt.date | None) -> Window:
    if data_first is None or window.first >= data_first:
        return window
    return Window(window.first, window.last, False,
                  f"the data starts on {data_first.isoformat()}, after {window.label()} began")
