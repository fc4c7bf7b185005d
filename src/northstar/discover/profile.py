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

from northstar.discover.entities import Exclusion, entity_notes, system_accounts
from northstar.discover.guess import TIMESTAMP_FILLED, Column, TimestampGuess, entity_word_of, epoch_unit, \
    file_noun, guess_dimensions, guess_entity, guess_event_column, guess_key, guess_timestamp, is_entity_noun, \
    is_time_named, measure_kind
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
    """What the data holds, and the guesses made from it.

    `noun` is what a row is when the file's name says it (posts, comments; None for a generic
    event log); `entity_table` marks a file with one row per entity (Users.csv: its rows are
    sign-ups, not actions). `exclusion` is a SQL filter that leaves out system accounts, and
    `notes` say in a sentence each what was left out or could not be found.
    """

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
    noun: str | None = None
    entity_table: bool = False
    exclusion: Exclusion | None = None
    notes: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()  # a union of sources: the sources it combines
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def event_values(self) -> list[str]:
        return [value for value, _count in self.events]

    @property
    def event_codes(self) -> bool:
        """The event column holds integer codes (`PostTypeId`), written unquoted in `where:`."""
        column = self.columns.get(self.event_column or "")
        return column is not None and column.kind == "integer"

    def event_value(self, event: str) -> int | str:
        """An event as the column holds it: 2 for `PostTypeId`, 'NextSong' for `page`."""
        return int(event) if self.event_codes else event

    @property
    def who(self) -> str:
        """`user` for user_id/OwnerUserId, `customer` for customer_id, ... (`customer` without an entity)."""
        return entity_word_of(self.entity, self.noun) or ("user" if self.entity else "customer")


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


def read_table(paths: list[str], fmt: str, con: Any = None, table_name: str = "discover_data") -> ir.Table:
    """The files as one Ibis table on an in-memory DuckDB (a fresh one unless `con` is given)."""
    con = con if con is not None else ibis.duckdb.connect()
    source: Any = paths if len(paths) > 1 else paths[0]
    reader = {"parquet": con.read_parquet, "csv": con.read_csv, "json": con.read_json}[fmt]
    try:
        return reader(source, table_name=table_name)
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
        if kind == "string" and is_time_named(name):  # text times (JSON): how many parse
            aggs.append(table[name].try_cast("timestamp").count().name(f"t{i}"))
    row = table.aggregate(aggs).execute().iloc[0].to_dict()
    columns: dict[str, Column] = {}
    for i, (name, kind) in enumerate(kinds.items()):
        lo, hi = (row.get(f"{side}{i}") for side in ("lo", "hi"))
        parsed = row.get(f"t{i}")
        columns[name] = Column(name, kind, int(row.get(f"d{i}", 0) or 0), int(row.get(f"n{i}", 0) or 0),
                               _number(lo), _number(hi), None if parsed is None else int(parsed))
    return int(row["rows"]), columns


def _text(value: Any) -> str:
    """An event value as text: integer codes without the `.0` pandas gives them next to a null."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def event_counts(table: ir.Table, column: str) -> tuple[tuple[str, int], ...]:
    frame = table.group_by(column).aggregate(n=table.count()).order_by([ibis.desc("n"), column]).execute()
    return tuple((_text(v), int(n)) for v, n in zip(frame[column], frame["n"]) if v is not None and v == v)


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
        filled = [_text(v) for v, n in zip(frame[event_column], frame[f"m{i}"])
                  if v is not None and counts.get(_text(v)) and n >= 0.5 * counts[_text(v)]]
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


def data_noun(pattern: str) -> str | None:
    """What a row is, from the file's name (or, for a glob of files, its folder's)."""
    path = Path(pattern)
    stem = path.name.split(".")[0]
    if any(ch in stem for ch in "*?["):
        stem = path.parent.name
    return file_noun(stem)


def profile_data(pattern: str, overrides: dict[str, str | None] | None = None,
                 files: list[str] | None = None) -> DataProfile:
    """Read the data a path or glob names and guess the meaning of its columns.

    `overrides` may fix `timestamp`, `entity` and `event` (the event-name column; None: there is
    none); they are taken as given (the caller checks they are columns).
    """
    files = files or data_files(pattern)
    fmt = file_format(files[0])
    table = read_table(files, fmt)
    return profile_table(table, pattern, files, fmt, overrides or {}, data_noun(pattern))


def profile_table(table: ir.Table, pattern: str, files: list[str], fmt: str, overrides: dict[str, str | None],
                  noun: str | None, parts: tuple[str, ...] = ()) -> DataProfile:
    """Profile a table read from `pattern` (DataError naming it when it cannot be read)."""
    try:
        return _profile(pattern, files, fmt, table, overrides, noun, parts)
    except DataError:
        raise
    except Exception as exc:  # DuckDB reads lazily: a bad file may only fail here
        first = first_line(exc)
        raise DataError(f"cannot read {pattern} as {fmt}: {first}") from None


def _percent(share: float) -> str:
    return f"{share:.0%}" if share < 0.995 else f"{share:.1%}"


def _timestamp_notes(pattern: str, guess: TimestampGuess, rows: int) -> list[str]:
    if guess.column is None:
        return []
    if guess.filled < TIMESTAMP_FILLED:
        return [f"{Path(pattern).name}: {guess.column} is empty on {_percent(1 - guess.filled)} of the rows "
                f"({round(rows * (1 - guess.filled)):,}); they have no time and are left out of every metric"]
    return []


def _profile(pattern: str, files: list[str], fmt: str, table: ir.Table, overrides: dict[str, str | None],
             noun: str | None, parts: tuple[str, ...]) -> DataProfile:
    rows, columns = column_stats(table)
    if not rows:
        raise DataError(f"{pattern} has no rows")
    guess = guess_timestamp(columns, rows)
    timestamp, unit = guess.column, guess.unit
    if overrides.get("timestamp"):
        timestamp = overrides["timestamp"]
        unit = epoch_unit(columns[timestamp]) if timestamp in columns else None
    notes = [] if overrides.get("timestamp") else _timestamp_notes(pattern, guess, rows)
    key = guess_key(columns, rows, noun)
    used = {c for c in (timestamp, key) if c}
    entity_table = False
    if "entity" in overrides:
        entity = overrides["entity"]
    else:
        entity = guess_entity(columns, rows, used)
        if entity is None and key is not None and is_entity_noun(noun):
            entity, entity_table = key, True  # Users.csv: one row per user, its id is the entity
        if timestamp is not None:  # a file without times is a lookup: nobody acts in it
            notes += entity_notes(pattern, columns, rows, used, entity, noun)
    entity_table = entity_table or (entity is not None and entity == key and is_entity_noun(noun))
    used |= {entity} if entity else set()
    event_column = overrides["event"] if "event" in overrides else guess_event_column(columns, rows, used)
    used |= {event_column} if event_column else set()
    events = event_counts(table, event_column) if event_column else ()
    kinds = {c.name: measure_kind(c.name) for c in columns.values()
             if c.kind in ("integer", "numeric") and c.name not in used and c.non_null}
    kinds = {name: kind for name, kind in kinds.items() if kind}
    filled = measures_by_event(table, event_column, list(kinds), dict(events))
    measures = tuple(Measure(name, kind, filled[name]) for name, kind in kinds.items())
    exclusion = system_accounts(table, columns, entity) if entity else None
    if exclusion is not None:
        notes.append(f"{Path(pattern).name}: {exclusion.note}")
    profile = DataProfile(path=pattern, files=tuple(files), format=fmt, rows=rows, columns=columns,
                          timestamp=timestamp, time_unit=unit, entity=entity, key=key, event_column=event_column,
                          events=events, measures=measures, dimensions=guess_dimensions(columns, rows, used),
                          noun=noun, entity_table=entity_table, exclusion=exclusion, notes=tuple(notes), parts=parts)
    first, last = _span(table, profile)
    return replace(profile, first=first, last=last, extra={"table": table})
