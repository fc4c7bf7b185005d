"""Time for the demo generator: the calendar, seasonality and drawing event times.

The generator keeps time as integer microseconds since ``start`` 00:00 on the local
(Europe/Amsterdam, the spec's timezone) clock, and converts to UTC only when it writes the
table. Working on the local clock keeps every simulated week, and so every planted incident,
exactly inside one Monday-to-Sunday week as the engine will bucket it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

DEMO_START = date(2024, 11, 4)
"""The Monday of the first week in the data."""
DEMO_WEEKS = 105
"""Weeks the data touches: a partial first week, 103 whole weeks, a partial last week."""
WARMUP_WEEKS = 26
"""Tunewave launched half a year before its event pipeline went live: the simulation starts
at the launch (Monday 2024-05-06) and the data at the pipeline, with users, subscribers and
habits already there, as in any real export."""
SITE_TIMEZONE = "Europe/Amsterdam"

SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US
DAY_US = 24 * HOUR_US
WEEK_US = 7 * DAY_US

PIPELINE_US = 2 * DAY_US + 9 * HOUR_US
"""The event pipeline went live on the Wednesday of the first data week at 09:00."""
EXPORT_US = 3 * DAY_US + 12 * HOUR_US
"""The data was exported on the Thursday of the last data week at noon."""


@dataclass(frozen=True)
class DataSpan:
    """The simulated weeks and the part of them that reaches the data.

    Real exports are cut wherever the calendar stands: the pipeline went live mid-week and the
    data was pulled mid-week, so the first and the last week are partial; and the product had
    been running before the first event. The simulation runs whole weeks from the launch
    (``sim_start``, ``warmup`` weeks before ``start``); ``first_us``/``end_us`` (local
    microseconds since ``sim_start``) cut out what the export holds.
    """

    start: date
    """The Monday of the first data week."""
    weeks: int
    """Data weeks."""
    warmup: int = WARMUP_WEEKS

    @property
    def sim_start(self) -> date:
        return self.start - timedelta(weeks=self.warmup)

    @property
    def sim_weeks(self) -> int:
        return self.warmup + self.weeks

    @property
    def first_us(self) -> int:
        return self.warmup * WEEK_US + PIPELINE_US

    @property
    def end_us(self) -> int:
        """The first instant after the data (exclusive)."""
        return (self.sim_weeks - 1) * WEEK_US + EXPORT_US

    @property
    def first_day(self) -> date:
        return self.sim_start + timedelta(days=self.first_us // DAY_US)

    @property
    def last_day(self) -> date:
        return self.sim_start + timedelta(days=(self.end_us - 1) // DAY_US)

    def open_days(self, closed_weeks: frozenset[int] = frozenset()) -> np.ndarray:
        """Per simulated day: 1.0 if the app was open that day, else 0.0."""
        days = np.arange(self.sim_weeks * 7)
        return (~np.isin(days // 7, list(closed_weeks))).astype(np.float64)

# Listening by local hour of day: commute peak, lunch, a long evening peak, quiet nights.
_WEEKDAY_HOURS = np.array(
    [0.9, 0.5, 0.3, 0.2, 0.2, 0.4, 1.2, 2.6, 3.4, 2.8, 2.4, 2.5,
     2.9, 2.8, 2.6, 2.7, 3.0, 3.4, 3.8, 4.2, 4.3, 4.0, 3.0, 1.8]
)
# Weekends start late and stay up later.
_WEEKEND_HOURS = np.array(
    [1.6, 1.1, 0.7, 0.4, 0.3, 0.3, 0.5, 0.9, 1.6, 2.4, 3.2, 3.6,
     3.7, 3.6, 3.5, 3.5, 3.6, 3.7, 3.8, 4.0, 4.1, 3.9, 3.2, 2.3]
)
WEEKDAY_HOUR_CDF = np.cumsum(_WEEKDAY_HOURS) / _WEEKDAY_HOURS.sum()
WEEKEND_HOUR_CDF = np.cumsum(_WEEKEND_HOURS) / _WEEKEND_HOURS.sum()

PLAY_DAY_WEIGHTS = np.array([0.90, 0.90, 0.93, 0.95, 1.05, 1.27, 1.20])
"""Monday..Sunday: more listening at weekends, so a daily series swings by weekday."""
SIGNUP_DAY_WEIGHTS = np.array([1.04, 1.00, 0.98, 0.96, 0.95, 1.00, 1.12])
FLAT_DAY_WEIGHTS = np.ones(7)


def check_start(start: date) -> None:
    """The simulation works in whole Monday-to-Sunday weeks, so ``start`` must be a Monday."""
    if start.weekday() != 0:
        raise ValueError(f"start must be a Monday, got {start} ({start:%A})")


def week_index(day: date, start: date) -> int:
    """Index of the simulated week that contains ``day`` (negative before ``start``)."""
    return (day - start).days // 7


def utc_offsets_us(start: date, days: int) -> np.ndarray:
    """Amsterdam's UTC offset for each local day, taken at local noon.

    Using one offset per day (a loop over days, not events) is exact except for the small
    hours of the two DST Sundays, and even there a converted time stays inside the same
    Monday-to-Sunday week, which is what the incidents need.
    """
    zone = ZoneInfo(SITE_TIMEZONE)
    offsets = np.empty(days, dtype=np.int64)
    for i in range(days):
        noon = datetime.combine(start + timedelta(days=i), time(12), tzinfo=zone)
        offset = noon.utcoffset()
        assert offset is not None
        offsets[i] = int(offset.total_seconds()) * SECOND_US
    return offsets


def local_to_utc_us(local_us: np.ndarray, start: date, offsets: np.ndarray) -> np.ndarray:
    """Convert local microseconds-since-start to epoch microseconds (UTC)."""
    epoch_us = (start - date(1970, 1, 1)).days * DAY_US
    return epoch_us + local_us - offsets[local_us // DAY_US]


def yearly_wave(start: date, weeks: int, peak: date, amplitude: float) -> np.ndarray:
    """Per week ``1 + amplitude * cos(...)`` peaking on ``peak``'s day of the year.

    Used for yearly seasonality: sign-ups peak around New Year and dip in summer, and people
    listen a bit more in winter.
    """
    mid = np.array([(start + timedelta(days=7 * w + 3)).timetuple().tm_yday for w in range(weeks)])
    phase = 2 * np.pi * (mid - peak.timetuple().tm_yday) / 365.25
    return 1.0 + amplitude * np.cos(phase)


def draw_week_times(
    rng: np.random.Generator,
    week: int,
    hour_shift: np.ndarray,
    day_weights: np.ndarray = PLAY_DAY_WEIGHTS,
) -> np.ndarray:
    """Local microsecond times inside ``week``, one per element of ``hour_shift``.

    The day follows ``day_weights`` and the hour a weekday or weekend profile in the user's
    own timezone; ``hour_shift`` (hours to add to reach Amsterdam time) moves it onto the
    site clock, wrapping inside the same day so the event stays in its week.
    """
    n = hour_shift.shape[0]
    day_cdf = np.cumsum(day_weights) / day_weights.sum()
    day = np.searchsorted(day_cdf, rng.random(n), side="right").clip(0, 6)
    u = rng.random(n)
    hour = np.where(
        day >= 5,
        np.searchsorted(WEEKEND_HOUR_CDF, u, side="right"),
        np.searchsorted(WEEKDAY_HOUR_CDF, u, side="right"),
    ).clip(0, 23)
    hour = (hour + hour_shift) % 24
    within = rng.integers(0, HOUR_US, n, dtype=np.int64)
    return week * WEEK_US + day.astype(np.int64) * DAY_US + hour.astype(np.int64) * HOUR_US + within


def squeeze_after(times: np.ndarray, lower: np.ndarray, week: int) -> np.ndarray:
    """Move times drawn over the whole week into ``[lower, week end)``, keeping their order.

    Needed in a user's sign-up week, where nothing may happen before the sign-up.
    """
    week_start = week * WEEK_US
    lower = np.maximum(lower, week_start)
    frac = (times - week_start) / WEEK_US
    moved = lower + np.floor(frac * (week_start + WEEK_US - lower)).astype(np.int64)
    return np.where(lower > week_start, moved, times)
