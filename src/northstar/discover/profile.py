"""Inspect an event file (or glob) and guess what its columns mean.

One pass of aggregates through Ibis on an embedded DuckDB gives, per column, its type,
distinct and non-null counts and numeric range; from names and those numbers we guess the
timestamp (and its epoch unit), the entity (who acted), the event-name column with its
values, the measures (durations, money, quantities) and the dimensions to break down by.
Every guess can be overridden (answers file `columns:`, or the interactive guide).
"""

from __future__ import annotations

import datetime as dt
import glob
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from northstar.discover.guess import Column, epoch_unit, guess_dimensions, guess_entity, guess_event_column, \
    guess_key, guess_timestamp, measure_kind
from northstar.engine.sources import column_kind
from northstar.errors import DataError, first_line

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".json": "json",
           ".jsonl": "json", ".ndjson": "json"}


@dataclass(frozen=True)
class Measure:
    """A numeric column worth summing: `kind` is duration, money or quantity."""

    column: str
    kind: str
    events: tuple[str, ...] = ()  # event values where it is mostly filled (all rows: no event column)


@dataclass(frozen=True)
class DataProfile:
    """What the data holds, and the guesses made from it."""

    path: str  # as given (a file or a glob)
    files: tuple[str, ...]
    format: str
    rows: int
    columns: dict[str, Column]
    timestamp: str | None = None
    time_unit: str | None = None
    entity: str | None = None
    key: str | None = None
    event_column: str | None = None
    events: tuple[tuple[str, int], ...] = ()  # event values and their counts, most frequent first
    measures: tuple[Measure, ...] = ()
    dimensions: tuple[str, ...] = ()
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def event_values(self) -> list[str]:
        return [value for value, _count in self.events]


def data_files(pattern: str) -> list[str]:
    """The files a path or glob names (DataError when there are none)."""
    paths = sorted(glob.glob(pattern)) if any(ch in pattern for ch in "*?[") else [pattern]
    if not paths:
        raise DataError(f"no file matches '{pattern}'")
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"data file not found: {path}" if not p.exists() else
                            f"{path} is a folder; give a file or a glob such as {path}/*.parquet")
        if p.stat().st_size == 0:
            raise DataError(f"data file is empty: {path}")
    return paths


def file_format(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".gz", ".zst"):
        suffix = Path(path[: -len(suffix)]).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"cannot tell the format of '{path}' from its extension: use .csv, .parquet or .jsonl")
    return FORMATS[suffix]


def read_table(paths: list[str], fmt: str) -> ir.Table:
    """The files as one Ibis table on a fresh in-memory DuckDB."""
    con = ibis.duckdb.connect()
    source: Any = paths if len(paths) > 1 else paths[0]
    reader = {"parquet": con.read_parquet, "csv": con.read_csv, "json": con.read_json}[fmt]
    try:
        return reader(source, table_name="discover_data")
    except Exception as exc:
        first = first_line(exc)
        raise DataError(f"cannot read {paths[0]} as {fmt}: {first}") from None


def _kind(dtype: Any) -> str:
    """The engine's column kinds, with integers told apart (epoch times, ids, counts)."""
    return "integer" if dtype.is_integer() else column_kind(dtype)


def _number(value: Any) -> float | None:
    """A float, or None for a missing value (None or NaN)."""
    return None if value is None or value != value else float(value)


def column_stats(table: ir.Table) -> tuple[int, dict[str, Column]]:
    """Row count and per-column statistics, in one aggregate query."""
    schema = table.schema()
    kinds = {name: _kind(dtype) for name, dtype in schema.items()}
    aggs: list[ir.Scalar] = [table.count().name("rows")]
    for i, (name, kind) in enumerate(kinds.items()):
        if kind == "other":
            continue
        aggs += [table[name].nunique().name(f"d{i}"), table[name].count().name(f"n{i}")]
        if kind in ("integer", "numeric"):
            aggs += [table[name].min().cast("float64").name(f"lo{i}"), table[name].max().cast("float64").name(f"hi{i}")]
    row = table.aggregate(aggs).execute().iloc[0].to_dict()
    columns: dict[str, Column] = {}
    for i, (name, kind) in enumerate(kinds.items()):
        lo, hi = (row.get(f"{side}{i}") for side in ("lo", "hi"))
        columns[name] = Column(name, kind, int(row.get(f"d{i}", 0) or 0), int(row.get(f"n{i}", 0) or 0),
                               _number(lo), _number(hi))
    return int(row["rows"]), columns

def event_counts(table: ir.Table, column: str) -> tuple[tuple[str, int], ...]:
    frame = table.group_by(column).aggregate(n=table.count()).order_by([ibis.desc("n"), column]).execute()
    return tuple((str(v), int(n)) for v, n in zip(frame[column], frame["n"]) if v is not None and v == v)


def measures_by_event(table: ir.Table, event_column: str | None, columns: list[str],
                      counts: dict[str, int]) -> dict[str, tuple[str, ...]]:
    """For each measure column, the event values on which it is filled in at least half the rows."""
    if not columns:
        return {}
    if event_column is None:
        return {c: () for c in columns}
    aggs = {f"m{i}": table[c].count() for i, c in enumerate(columns)}
    frame = table.group_by(event_column).aggregate(**aggs).execute()
    out: dict[str, tuple[str, ...]] = {}
    for i, name in enumerate(columns):
        filled = [str(v) for v, n in zip(frame[event_column], frame[f"m{i}"])
                  if v is not None and counts.get(str(v)) and n >= 0.5 * counts[str(v)]]
        out[name] = tuple(sorted(filled, key=lambda v: -counts[v]))
    return out


def _span(table: ir.Table, profile: DataProfile) -> tuple[dt.datetime | None, dt.datetime | None]:
    if profile.timestamp is None:
        return None, None
    col = table[profile.timestamp]
    try:
        lo, hi = table.aggregate(lo=col.min(), hi=col.max()).execute().iloc[0]
    except Exception:
        return None, None
    if profile.time_unit:
        scale = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[profile.time_unit]
        to = lambda v: dt.datetime.fromtimestamp(float(v) / scale, dt.timezone.utc)  # noqa: E731
        return to(lo), to(hi)
    try:
        return _as_datetime(lo), _as_datetime(hi)
    except (TypeError, ValueError):
        return None, None


def _as_datetime(value: Any) -> dt.datetime:
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return dt.datetime.fromisoformat(str(value))


def profile_data(pattern: str, overrides: dict[str, str | None] | None = None) -> DataProfile:
    """Read the data a path or glob names and guess the meaning of its columns.

    `overrides` may fix `timestamp`, `entity` and `event` (the event-name column; None: there is
    none); they are taken as given (the caller checks they are columns).
    """
    overrides = overrides or {}
    files = data_files(pattern)
    fmt = file_format(files[0])
    table = read_table(files, fmt)
    try:
        return _profile(pattern, files, fmt, table, overrides)
    except DataError:
        raise
    except Exception as exc:  # DuckDB reads lazily: a bad file may only fail here
        first = first_line(exc)
        raise DataError(f"cannot read {pattern} as {fmt}: {first}") from None


def _profile(pattern: str, files: list[str], fmt: str, table: ir.Table,
             overrides: dict[str, str | None]) -> DataProfile:
    rows, columns = column_stats(table)
    if not rows:
        raise DataError(f"{pattern} has no rows")
    timestamp, unit = guess_timestamp(columns)
    if overrides.get("timestamp"):
        timestamp = overrides["timestamp"]
        unit = epoch_unit(columns[timestamp]) if timestamp in columns else None
    key = guess_key(columns, rows)
    used = {c for c in (timestamp, key) if c}
    entity = overrides["entity"] if "entity" in overrides else guess_entity(columns, rows, used)
    used |= {entity} if entity else set()
    event_column = overrides["event"] if "event" in overrides else guess_event_column(columns, used)
    used |= {event_column} if event_column else set()
    events = event_counts(table, event_column) if event_column else ()
    kinds = {c.name: measure_kind(c.name) for c in columns.values()
             if c.kind in ("integer", "numeric") and c.name not in used and c.non_null}
    kinds = {name: kind for name, kind in kinds.items() if kind}
    filled = measures_by_event(table, event_column, list(kinds), dict(events))
    measures = tuple(Measure(name, kind, filled[name]) for name, kind in kinds.items())
    profile = DataProfile(path=pattern, files=tuple(files), format=fmt, rows=rows, columns=columns,
                          timestamp=timestamp, time_unit=unit, entity=entity, key=key, event_column=event_column,
                          events=events, measures=measures, dimensions=guess_dimensions(columns, rows, used))
    first, last = _span(table, profile)
    return replace(profile, first=first, last=last, extra={"table": table})
