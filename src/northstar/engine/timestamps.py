"""Timestamps in the wild: how a source's time column is read, and its first and last event.

A time column is one of: epoch numbers (`time_unit`), integers written yyyymmdd (20111011:
recognised when every value is such a date, or declared with `time_format: '%Y%m%d'`), text
read with a strptime pattern (`time_format`), ISO 8601 text, a date, or a timestamp. Reading
the first and last event (`read_bounds`, before any query) is where a column that cannot be
read as declared is caught, with a one-line error that names the source, the column, a
sample value and what would read it: a unit that gives dates after 9999 would otherwise be
an internal error, and text that does not parse an empty result on some engines.
"""

from __future__ import annotations

import datetime as dt
import numbers
import zoneinfo
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir
import pandas as pd

from northstar.engine.backends import Backend
from northstar.engine.sources import BoundSource
from northstar.engine.timeguess import (UNIT_WORDS, YYYYMMDD_RANGE, describe_year, epoch_datetime, fits, iso_like,
                                        number_advice, text_advice, wrong_unit, yyyymmdd_date)
from northstar.errors import DataError, first_line
from northstar.spec.model import Source
from northstar.spec.timeformat import has_offset, has_time_of_day

# How a parsed value relates to time: a naive UTC instant, an instant typed with a zone, a
# naive wall-clock time in the source's zone, or a calendar date (local already).
Meaning = Literal["instant", "aware", "wall", "date"]
SAMPLE = 1000  # values read to explain a column that does not parse


def yyyymmdd_source(source: Source, dtype: idt.DataType) -> bool:
    """Integers that are dates: no unit and no pattern (recognised: `read_bounds` has checked
    every value), or `time_format: '%Y%m%d'`."""
    return dtype.is_integer() and not source.time_unit and source.time_format in (None, "%Y%m%d")


def parsed_time(backend: Backend, column: ir.Column, source: Source) -> tuple[ir.Value, Meaning]:
    """The source's time column as a timestamp or date expression, and what it means."""
    dtype = column.type()
    if source.time_unit is not None:
        value = column if dtype.is_integer() else column.cast("int64")
        return backend.from_epoch(value, source.time_unit), "instant"
    if yyyymmdd_source(source, dtype):
        return ymd_date(column), "date"
    pattern = source.time_format
    if pattern and (dtype.is_string() or dtype.is_integer()):
        value = backend.parse_time(as_text(column), pattern)
        if not has_time_of_day(pattern):
            return value.cast(idt.Timestamp()).date(), "date"
        if has_offset(pattern):
            return value.cast(idt.Timestamp(timezone="UTC")), "aware"
        return value.cast(idt.Timestamp()), "wall"
    if dtype.is_date():
        return column, "date"
    if dtype.is_string():
        # Text with a UTC offset ("...-05:00") keeps it; text without is in the source's zone.
        if source.timezone:
            return as_text(column).cast(idt.Timestamp()), "wall"
        return as_text(column).cast(idt.Timestamp(timezone="UTC")), "aware"
    if dtype.is_timestamp() and dtype.timezone is not None:
        return column, "aware"
    return column, "wall"


def as_text(column: ir.Column) -> ir.StringValue:
    """The column as text for a pattern, an empty cell as no value (a CSV reader that keeps
    the column as text, as ClickHouse's, reads an empty cell as '')."""
    text = column if column.type().is_string() else column.cast("string")
    return text.nullif("")


def ymd_date(value: ir.IntegerValue) -> ir.DateValue:
    """The date of an integer yyyymmdd, by arithmetic (every engine has make_date)."""
    return ibis.date(value // 10000, value // 100 % 100, value % 100)


def not_yyyymmdd(value: ir.IntegerValue) -> ir.BooleanValue:
    """Values that are no yyyymmdd date (out of range, month 13, 30 February...)."""
    year, month, day = value // 10000, value // 100 % 100, value % 100
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = ibis.cases((month == 2, ibis.ifelse(leap, 29, 28)), (month.isin([4, 6, 9, 11]), 30), else_=31)
    return ((value < YYYYMMDD_RANGE[0]) | (value > YYYYMMDD_RANGE[1]) | (month < 1) | (month > 12)
            | (day < 1) | (day > days))


@dataclass(frozen=True)
class Bounds:
    """A source's first and last event: local wall-clock times in the spec's zone, and naive
    UTC instants when the column gives them (not for calendar dates or naive local times)."""

    local: tuple[dt.datetime, dt.datetime]
    instants: tuple[dt.datetime, dt.datetime] | None


def read_bounds(backend: Backend, bound: BoundSource, zone: str) -> Bounds | None:
    """First and last event of a source (None when it has no rows with a time), or a DataError
    saying why its time column cannot be read as declared."""
    source, table = bound.source, bound.table
    column = table[source.timestamp]
    dtype = column.type()
    if source.time_unit:
        return _epoch_bounds(backend, bound, column, zone)
    if dtype.is_numeric() and not dtype.is_integer():
        return _numbers_without_unit(backend, bound, column)
    if not (dtype.is_string() or dtype.is_integer() or dtype.is_date() or dtype.is_timestamp()):
        raise DataError(f"source '{bound.name}': column '{source.timestamp}' is {dtype}, not a time")
    if yyyymmdd_source(source, dtype):
        return _yyyymmdd_bounds(backend, bound, column)
    value, meaning = parsed_time(backend, column, source)
    text = dtype.is_string() or (dtype.is_integer() and source.time_format is not None)
    counts = {"given": as_text(column).count(), "read": value.count()} if text else {}
    try:
        row = _aggregate(backend, table, lo=value.min(), hi=value.max(), **counts)
    except Exception as exc:
        if text:
            raise _text_error(backend, bound, exc) from None
        raise DataError(f"source '{bound.name}': cannot read column '{source.timestamp}' as time: "
                        f"{first_line(exc)}") from None
    if text and int(row["read"]) < int(row["given"]):  # engines that give NULL for text they cannot read
        raise _text_error(backend, bound, None)
    if pd.isna(row["lo"]):
        return None
    lo, hi = _python_time(row["lo"]), _python_time(row["hi"])
    if meaning == "date":
        return Bounds((_midnight(lo), _midnight(hi)), None)
    if meaning == "wall" and (source.timezone or "UTC") != "UTC":
        recorded = zoneinfo.ZoneInfo(source.timezone or "UTC")
        return Bounds((_wall_to_zone(lo, recorded, zone), _wall_to_zone(hi, recorded, zone)), None)
    instants = (_naive_utc(lo), _naive_utc(hi))
    return Bounds((_utc_to_zone(instants[0], zone), _utc_to_zone(instants[1], zone)), instants)


def _aggregate(backend: Backend, table: ir.Table, **values: ir.Scalar) -> Any:
    return backend.execute(table.aggregate(**values)).iloc[0]


def _epoch_bounds(backend: Backend, bound: BoundSource, column: ir.Column, zone: str) -> Bounds | None:
    source = bound.source
    unit = source.time_unit
    assert unit is not None
    try:
        row = _aggregate(backend, bound.table, lo=column.min(), hi=column.max())
    except Exception as exc:
        raise DataError(f"source '{bound.name}': cannot read column '{source.timestamp}' as time: "
                        f"{first_line(exc)}") from None
    if pd.isna(row["lo"]):
        return None
    lo, hi = _epoch_number(row["lo"], bound), _epoch_number(row["hi"], bound)
    problem = wrong_unit(lo, hi, unit)
    if problem is not None:
        raise DataError(f"source '{bound.name}': column '{source.timestamp}' read as {UNIT_WORDS[unit]} "
                        f"(`time_unit: {unit}`) gives {problem}")
    instants = (epoch_datetime(lo, unit), epoch_datetime(hi, unit))
    assert instants[0] is not None and instants[1] is not None
    return Bounds((_utc_to_zone(instants[0], zone), _utc_to_zone(instants[1], zone)), instants)  # type: ignore[arg-type]


def _epoch_number(value: Any, bound: BoundSource) -> numbers.Real:
    """An epoch number from the data, or a clear error when the column holds something else."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar -> Python number (integers stay exact)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value
    source = bound.source
    raise DataError(f"source '{bound.name}': `time_unit: {source.time_unit}` needs epoch numbers, but column "
                    f"'{source.timestamp}' holds {type(value).__name__} values such as '{value}'; remove `time_unit`")


def _yyyymmdd_bounds(backend: Backend, bound: BoundSource, column: ir.IntegerColumn) -> Bounds | None:
    """Integers as yyyymmdd dates, when every one is such a date; otherwise the error says
    which epoch unit would read them."""
    source, table = bound.source, bound.table
    bad = column.notnull() & not_yyyymmdd(column)
    row = _aggregate(backend, table, lo=column.min(), hi=column.max(), bad=bad.sum())
    if pd.isna(row["lo"]):
        return None
    if int(row["bad"]):
        sample = backend.execute(table.filter(bad).select(column).limit(1)).iloc[0, 0]
        lo, hi = int(row["lo"]), int(row["hi"])
        if source.time_format is not None:
            raise DataError(f"source '{bound.name}': {int(row['bad']):,} values of column '{source.timestamp}' are "
                            f"not dates written `time_format: '%Y%m%d'` (e.g. {_number(sample)}); "
                            f"{number_advice(source.timestamp or '', lo, hi)}")
        raise DataError(f"source '{bound.name}': column '{source.timestamp}' holds numbers (e.g. {_number(sample)}) "
                        f"that are not yyyymmdd dates; {number_advice(source.timestamp or '', lo, hi)}")
    first, last = yyyymmdd_date(int(row["lo"])), yyyymmdd_date(int(row["hi"]))
    assert first is not None and last is not None
    return Bounds((_midnight(first), _midnight(last)), None)


def _numbers_without_unit(backend: Backend, bound: BoundSource, column: ir.Column) -> Bounds:
    """A non-integer number column without `time_unit`: say which unit would read it."""
    source = bound.source
    row = _aggregate(backend, bound.table, lo=column.min(), hi=column.max())
    if pd.isna(row["lo"]):
        raise DataError(f"source '{bound.name}': column '{source.timestamp}' holds numbers, all empty; "
                        "add `time_unit:` if they are epoch times")
    lo, hi = float(row["lo"]), float(row["hi"])
    raise DataError(f"source '{bound.name}': column '{source.timestamp}' holds numbers (e.g. {_number(hi)}); "
                    f"{number_advice(source.timestamp or '', lo, hi)}")


def _text_error(backend: Backend, bound: BoundSource, exc: Exception | None) -> DataError:
    """Why text does not read as time, from a sample: the first value that fails, and the
    common pattern that reads the failing ones."""
    source, table = bound.source, bound.table
    column = table[source.timestamp]
    text = as_text(column)
    try:
        frame = backend.execute(table.filter(text.notnull()).select(value=text).limit(SAMPLE))
        values = [str(v) for v in frame["value"]]
    except Exception:  # pragma: no cover - the sample is read the same way the bounds were
        values = []
    pattern = source.time_format
    failing = [v for v in values if not (fits(v, pattern) if pattern else iso_like(v))]
    where = f"source '{bound.name}': column '{source.timestamp}'"
    if not failing:
        reason = first_line(exc) if exc is not None else "some values do not parse"
        setting = f"`time_format: '{pattern}'`" if pattern else "an ISO 8601 timestamp"
        return DataError(f"{where} cannot be read as {setting} on engine {backend.name}: {reason}")
    share = f"{len(failing):,} of the first {len(values):,} values" if len(failing) < len(values) else "its values"
    advice = text_advice(failing, len(values))
    if pattern:
        return DataError(f"{where}: {share} do not match `time_format: '{pattern}'` (e.g. '{failing[0]}'); {advice}")
    return DataError(f"{where}: {share} are not ISO 8601 timestamps (e.g. '{failing[0]}'); {advice}")


# ---- Python values ---------------------------------------------------------------------

def _number(value: Any) -> str:
    number = value.item() if hasattr(value, "item") else value
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


def _python_time(value: Any) -> dt.datetime | dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    stamp = pd.Timestamp(value)
    if stamp.nanosecond:
        stamp = stamp.floor("us")
    return stamp.to_pydatetime()


def _midnight(value: dt.date) -> dt.datetime:
    return dt.datetime(value.year, value.month, value.day)


def _naive_utc(value: dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return _midnight(value)
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _utc_to_zone(instant: dt.datetime, zone: str) -> dt.datetime:
    return instant.replace(tzinfo=dt.timezone.utc).astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


def _wall_to_zone(value: dt.date, recorded: zoneinfo.ZoneInfo, zone: str) -> dt.datetime:
    stamp = pd.Timestamp(_naive_utc(value)).tz_localize(recorded, ambiguous=True, nonexistent="shift_forward")
    return stamp.tz_convert(zoneinfo.ZoneInfo(zone)).tz_localize(None).to_pydatetime()
