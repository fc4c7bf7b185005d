"""Which period is under review, and how far each metric's value in a period can be trusted.

One rule, decided here and used by every command, page, report, digest and alert:

* **Coverage.** The data runs from its first to its last event (local time, over the sources
  behind the metrics asked about). A period is *complete* when the data covers it from its
  first day to its last (the first event on or before its first day, the last event on or
  after its last day), *partial* when the data begins or ends inside it, and *outside* when
  the data does not reach it at all.
* **The review period** is the last complete period of the North Star's grain, judged on the
  North Star's own sources. Nothing else moves it: a metric whose window has not passed is
  marked, never a reason to review an older period. When the data holds no complete period
  (less than one period of data), the last period is reviewed and marked partial.
* **Provisional values.** A conversion counts what happens within its window *after* the
  period; until the data reaches the end of that window (the period's last day plus the
  window), the value can still grow. Such a value is *provisional* (with the date from which
  it is final) and is never used as final: not for anomalies, bottlenecks, baselines, verdicts
  or leads. A metric built on a conversion (a formula over it) is provisional with it.

Pure functions of dates: the Project feeds them the data's bounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from northstar.engine.time import period_start, shift_period

ADJECTIVES = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}


@dataclass(frozen=True)
class Coverage:
    """The first and last event of the data behind some metrics (local wall-clock times)."""

    first: dt.datetime
    last: dt.datetime

    @property
    def first_day(self) -> dt.date:
        return self.first.date()

    @property
    def last_day(self) -> dt.date:
        return self.last.date()

    def to_dict(self) -> dict[str, Any]:
        return {"first_event": self.first.isoformat(sep=" "), "last_event": self.last.isoformat(sep=" ")}


def last_day(period: dt.date, grain: str) -> dt.date:
    """The last day of a period (the calendar's last day for a period that runs past 9999-12-31:
    a date a user typed, such as 9999-12-31, is then a period the data does not reach, not an
    OverflowError)."""
    try:
        return shift_period(period, grain, 1) - dt.timedelta(days=1)
    except (OverflowError, ValueError):
        return dt.date.max


def period_name(period: dt.date, grain: str) -> str:
    """'the week of 2026-11-23', 'the month of 2026-11-01' (the label used everywhere)."""
    return f"the {grain} of {period.isoformat()}"


def coverage_state(period: dt.date, grain: str, coverage: Coverage | None) -> tuple[str, str | None]:
    """("complete" | "partial" | "outside", why) for a period under a coverage."""
    if coverage is None:
        return "outside", "the data holds no events"
    end = last_day(period, grain)
    if end < coverage.first_day:
        return "outside", f"it ends before the data starts on {coverage.first_day.isoformat()}"
    if period > coverage.last_day:
        return "outside", f"it starts after the data ends on {coverage.last_day.isoformat()}"
    reasons = []
    if coverage.first_day > period:
        reasons.append(f"the data starts on {coverage.first_day.isoformat()}, after this {grain} began")
    if coverage.last_day < end:
        reasons.append(f"the data ends on {coverage.last_day.isoformat()}, before this {grain} ends "
                       f"on {end.isoformat()}")
    if reasons:
        return "partial", "; ".join(reasons)
    return "complete", None


def final_from(period: dt.date, grain: str, window: dt.timedelta) -> dt.date:
    """The day a look-ahead `window` after the period ends on (the data must cover it)."""
    return (window_end(period, grain, window) - dt.timedelta(microseconds=1)).date()


def window_end(period: dt.date, grain: str, window: dt.timedelta) -> dt.datetime:
    """The instant the window of the period's last event closes: the period's end plus `window`.
    An event at 23:59 on the period's last day has until then to convert, so the value is final
    only once the data reaches that instant (an export at noon does not cover the afternoon).
    Past the calendar's end (a period a user asked for in year 9999): the calendar's last instant."""
    try:
        return dt.datetime.combine(shift_period(period, grain, 1), dt.time()) + window
    except (OverflowError, ValueError):
        return dt.datetime.max


@dataclass(frozen=True)
class PeriodInfo:
    """A period, how completely the data covers it, and which metrics are provisional in it."""

    period: dt.date
    grain: str
    state: str  # complete | partial | outside
    reason: str | None  # why it is partial or outside
    provisional: Mapping[str, dt.date] = field(default_factory=dict)  # metric -> the data must reach this day
    why: str = ""  # why this period is the one shown (the review period's reason, or "asked for")

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    @property
    def partial_reason(self) -> str | None:
        return self.reason if self.state == "partial" else None

    @property
    def end(self) -> dt.date:
        return last_day(self.period, self.grain)

    def is_provisional(self, metric: str) -> bool:
        return metric in self.provisional

    def status_of(self, metric: str) -> str:
        """final | provisional | partial | outside for one metric in this period."""
        if self.state != "complete":
            return self.state
        return "provisional" if metric in self.provisional else "final"

    def note_for(self, metric: str) -> str | None:
        """One line on why a metric's value here is not final, or None."""
        if self.state == "partial":
            return f"partial {self.grain}: {self.reason}"
        if self.state == "outside":
            return self.reason
        if metric in self.provisional:
            return provisional_note(self.provisional[metric])
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period.isoformat(), "grain": self.grain, "start": self.period.isoformat(),
                "end": self.end.isoformat(), "complete": self.complete, "state": self.state,
                "partial_reason": self.partial_reason,
                "provisional": {m: {"final_when_data_reaches": d.isoformat()} for m, d in self.provisional.items()},
                "why": self.why}


def provisional_note(until: dt.date) -> str:
    return f"provisional: its window has not passed yet (final once the data reaches {until.isoformat()})"


def provisional_metrics(period: dt.date, grain: str, windows: Mapping[str, dt.timedelta],
                        ends: Mapping[str, dt.datetime]) -> dict[str, dt.date]:
    """{metric: day its window ends on} for the metrics whose look-ahead window has not passed.

    `windows`: each metric's longest look-ahead (0 for none); `ends`: the last event of each
    metric's data. Windows are judged to the instant (see `window_end`)."""
    out = {}
    for metric, window in windows.items():
        if window <= dt.timedelta(0) or metric not in ends:
            continue
        if window_end(period, grain, window) > ends[metric]:
            out[metric] = final_from(period, grain, window)
    return out


def last_complete(grain: str, coverage: Coverage) -> tuple[dt.date, bool]:
    """The last period the coverage holds from its first day to its last, and whether one exists
    (False: the data is shorter than a period; the last, partial period is returned)."""
    current = period_start(coverage.last_day, grain)
    if last_day(current, grain) > coverage.last_day:
        current = shift_period(current, grain, -1)
    if current < coverage.first_day:
        return period_start(coverage.last_day, grain), False
    return current, True


def last_final(grain: str, coverage: Coverage, window: dt.timedelta) -> dt.date:
    """The last complete period whose look-ahead `window` has passed (may precede the data)."""
    current, _found = last_complete(grain, coverage)
    while window > dt.timedelta(0) and window_end(current, grain, window) > coverage.last:
        current = shift_period(current, grain, -1)
    return current


def review_reason(period: dt.date, grain: str, coverage: Coverage, found: bool) -> str:
    """Why `period` is the one under review, in one sentence."""
    span = f"the data runs from {coverage.first_day.isoformat()} to {coverage.last_day.isoformat()}"
    if not found:
        return (f"{period_name(period, grain)} is the data's last {grain}, and it is partial: {span}, "
                f"less than one whole {grain}")
    nxt = shift_period(period, grain, 1)
    if nxt <= coverage.last_day:
        return (f"the last {grain} the data covers completely: {span}, so the {grain} of "
                f"{nxt.isoformat()} is not complete yet")
    return f"the last {grain} the data covers completely: {span}"


def first_whole(grain: str, coverage: Coverage) -> dt.date:
    """The first period the data covers from its first day (the one before is partial)."""
    start = period_start(coverage.first_day, grain)
    return start if start == coverage.first_day else shift_period(start, grain, 1)


def adjective(grain: str) -> str:
    return ADJECTIVES.get(grain, grain)
