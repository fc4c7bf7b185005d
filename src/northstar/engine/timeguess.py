"""What the raw values of a timestamp column are, judged in plain Python.

Used when a column cannot be read as declared, to say why and what would read it: the epoch
unit that gives plausible dates, whether integers are yyyymmdd dates, and which common
strptime pattern fits a sample of text (saying so when day-first and month-first both fit).
Only ever run on the few values of a sample or on a column's minimum and maximum.
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

PLAUSIBLE_YEARS = (1900, 2200)  # dates outside these are taken as a wrong unit, not as data
PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
UNIT_WORDS = {"s": "epoch seconds", "ms": "epoch milliseconds", "us": "epoch microseconds",
              "ns": "epoch nanoseconds"}
YYYYMMDD_RANGE = (19000101, 21001231)
_EPOCH = dt.datetime(1970, 1, 1)
_LOW = dt.datetime(PLAUSIBLE_YEARS[0], 1, 1)
_HIGH = dt.datetime(PLAUSIBLE_YEARS[1], 1, 1)


# ---- numbers ---------------------------------------------------------------------------------

def epoch_datetime(value: numbers.Real, unit: str) -> dt.datetime | None:
    """The naive UTC time of an epoch number (integers exactly, to the microsecond), or None
    when it lies outside the years Python can represent."""
    try:
        if isinstance(value, numbers.Integral):
            micros = int(value) * 10**6 // PER_SECOND[unit]
        else:
            micros = round(float(value) * 10**6 / PER_SECOND[unit])
        return _EPOCH + dt.timedelta(microseconds=micros)
    except (OverflowError, ValueError):
        return None


def plausible(value: numbers.Real, unit: str) -> bool:
    moment = epoch_datetime(value, unit)
    return moment is not None and _LOW <= moment < _HIGH


def plausible_units(low: numbers.Real, high: numbers.Real) -> list[str]:
    """The epoch units under which both the smallest and the largest value are plausible dates."""
    return [unit for unit in PER_SECOND if plausible(low, unit) and plausible(high, unit)]


def describe_year(value: numbers.Real, unit: str) -> str:
    """'the year 43747' / '2011-10-11': what an epoch number means in a unit, for messages."""
    moment = epoch_datetime(value, unit)
    if moment is None:
        seconds = float(value) / PER_SECOND[unit]
        return f"the year {1970 + seconds / 31_556_952:.0f}"
    return f"{moment:%Y-%m-%d}" if _LOW <= moment < _HIGH else f"the year {moment.year}"


def wrong_unit(low: numbers.Real, high: numbers.Real, unit: str) -> str | None:
    """What epoch numbers from `low` to `high` give in `unit` and why that cannot be right
    (to follow "gives "), or None: dates outside 1900-2200, or every date in 1970 (the first
    year after the epoch) where the numbers are yyyymmdd dates or another unit gives dates of
    our era: no real event log lies all in 1970."""
    if plausible(low, unit) and plausible(high, unit):
        first, last = epoch_datetime(low, unit), epoch_datetime(high, unit)
        assert first is not None and last is not None
        if first.year != 1970 or last.year != 1970:
            return None
        span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}, all in 1970"
        if yyyymmdd_date(low) is not None and yyyymmdd_date(high) is not None:
            return f"{span}, but the values (e.g. {high}) look like yyyymmdd dates: remove `time_unit`"
        recent = [u for u in plausible_units(low, high) if u != unit and _recent(low, high, u)]
        if not recent:
            return None
        return f"{span}; {_gives(low, high, recent[0])}: use that"
    value = high if not plausible(high, unit) else low
    why = f"{describe_year(value, unit)} for {value}"
    if yyyymmdd_date(low) is not None and yyyymmdd_date(high) is not None:
        return f"{why}; the values look like yyyymmdd dates: remove `time_unit`"
    units = plausible_units(low, high)
    if units:
        return f"{why}; {_gives(low, high, _likeliest(units, low, high))}: use that"
    return (f"{why}; no unit gives dates between {PLAUSIBLE_YEARS[0]} and {PLAUSIBLE_YEARS[1]}: "
            "is it an epoch time?")


def _gives(low: numbers.Real, high: numbers.Real, unit: str) -> str:
    return f"`time_unit: {unit}` gives {describe_year(low, unit)} to {describe_year(high, unit)}"


def _recent(low: numbers.Real, high: numbers.Real, unit: str) -> bool:
    first, last = epoch_datetime(low, unit), epoch_datetime(high, unit)
    return first is not None and last is not None and first.year >= 1990 and last.year <= 2100


def yyyymmdd_date(value: object) -> dt.date | None:
    """The calendar date of an integer written as yyyymmdd (20111011), or None."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        return None
    number = int(value)
    if not YYYYMMDD_RANGE[0] <= number <= YYYYMMDD_RANGE[1]:
        return None
    try:
        return dt.date(number // 10000, number // 100 % 100, number % 100)
    except ValueError:
        return None


def number_advice(column: str, low: numbers.Real, high: numbers.Real) -> str:
    """What to write for a numeric timestamp column whose values run from `low` to `high`."""
    units = plausible_units(low, high)
    if units:
        unit = units[0] if len(units) == 1 else _likeliest(units, low, high)
        return (f"add `time_unit: {unit}` ({UNIT_WORDS[unit]}: {describe_year(low, unit)} to "
                f"{describe_year(high, unit)})")
    return (f"no epoch unit (s, ms, us, ns) gives dates between {PLAUSIBLE_YEARS[0]} and {PLAUSIBLE_YEARS[1]}, "
            f"and they are not all yyyymmdd dates: is '{column}' a time at all?")


def _likeliest(units: list[str], low: numbers.Real, high: numbers.Real) -> str:
    """Of several plausible units, the one whose dates are nearest today (epoch seconds of
    1970-2000 are also plausible milliseconds of January 1970)."""
    now = dt.datetime(2025, 1, 1)

    def distance(unit: str) -> float:
        moment = epoch_datetime(high, unit)
        return abs((moment - now).total_seconds()) if moment is not None else float("inf")

    return min(units, key=distance)


# ---- text --------------------------------------------------------------------------------

def _common_patterns() -> list[str]:
    """Common text timestamps that ISO 8601 casts do not read, most specific first."""
    times = [" %H:%M:%S.%f", " %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p", ""]
    out: list[str] = []
    for sep in "/-.":
        for order in (("%d", "%m", "%Y"), ("%m", "%d", "%Y"), ("%d", "%m", "%y"), ("%m", "%d", "%y"),
                      ("%Y", "%m", "%d")):
            if sep != "-" or order[0] != "%Y":  # 2011-10-11 is ISO 8601: a cast reads it
                out += [sep.join(order) + time for time in times]
    out += ["%a %b %d %H:%M:%S %z %Y",  # Twitter / Ruby: Tue Oct 11 19:50:34 +0000 2011
            "%a, %d %b %Y %H:%M:%S %z",  # RFC 2822 (e-mail, RSS): Tue, 11 Oct 2011 19:50:34 +0000
            "%d %b %Y %H:%M:%S %z", "%a %b %d %H:%M:%S %Y",
            "%d/%b/%Y:%H:%M:%S %z",  # web server logs: 11/Oct/2011:19:50:34 +0000
            "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%Y %H:%M:%S",
            "%b %d %Y %H:%M:%S", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y",
            "%Y%m%d%H%M%S", "%Y%m%d %H:%M:%S", "%Y%m%d"]
    return out


COMMON_PATTERNS: tuple[str, ...] = tuple(_common_patterns())


def fits(text: str, pattern: str) -> bool:
    try:
        dt.datetime.strptime(text.strip(), pattern)
    except ValueError:
        return False
    return True


def iso_like(text: str) -> bool:
    """Text an engine's cast to a timestamp reads: ISO 8601 date and time, with or without an
    offset (Python's `fromisoformat`, which also takes a space for the `T`)."""
    try:
        dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Guess:
    """The common patterns that read every value of a sample (most specific first)."""

    patterns: tuple[str, ...]

    @property
    def ambiguous(self) -> tuple[str, str] | None:
        """(day-first, month-first) when both read the whole sample."""
        for pattern in self.patterns:
            if pattern.startswith("%d") and pattern[2] in "/-." and pattern[3:5] == "%m":
                swapped = "%m" + pattern[2] + "%d" + pattern[5:]
                if swapped in self.patterns:
                    return pattern, swapped
        return None


def guess_pattern(values: Sequence[str]) -> Guess:
    texts = [v.strip() for v in values if v and v.strip()]
    if not texts:
        return Guess(())
    found = [p for p in COMMON_PATTERNS if fits(texts[0], p) and all(fits(t, p) for t in texts[1:])]
    return Guess(tuple(found))


def text_advice(values: Sequence[str], sample_size: int) -> str:
    """What to write for text that the engine does not read (`values`: the failing ones)."""
    if all(iso_like(v) for v in values):
        return "they are ISO 8601: remove `time_format`"
    guess = guess_pattern(values)
    both = guess.ambiguous
    if both is not None:
        example = next((v for v in values if fits(v, both[0]) and fits(v, both[1])), values[0])
        sample = f"the first {sample_size:,} values" if sample_size > 1 else "the one value"
        return (f"day-first and month-first both fit {sample} (e.g. '{example}'): "
                f"add `time_format: '{both[0]}'` for day-first or `time_format: '{both[1]}'` for month-first")
    if guess.patterns:
        pattern = guess.patterns[0]
        return f"{_looks_like(pattern)}: add `time_format: '{pattern}'`"
    return "add `time_format:` with a strptime pattern that reads them, e.g. '%d/%m/%Y %H:%M'"


def _looks_like(pattern: str) -> str:
    if pattern.startswith("%d") and pattern[2:4] in ("/%", "-%", ".%") and pattern[4] == "m":
        return "looks like day-first dates"
    if pattern.startswith("%m") and pattern[2:4] in ("/%", "-%", ".%"):
        return "looks like month-first dates"
    if pattern.startswith("%a, %d %b"):
        return "looks like RFC 2822 dates"
    if pattern.startswith("%Y%m%d"):
        return "looks like yyyymmdd dates"
    return "a common pattern reads them"
