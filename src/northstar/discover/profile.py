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
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from northstar.errors import DataError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".json": "json",
           ".jsonl": "json", ".ndjson": "json"}
TIMESTAMP_TOKENS = ("ts", "timestamp", "time", "datetime", "at", "date", "occurred", "created", "epoch")
ENTITY_TOKENS = ("user", "userid", "uid", "customer", "account", "member", "client", "subscriber", "visitor",
                 "player", "listener", "buyer", "shopper", "person", "organisation", "organization", "org",
                 "company", "tenant", "workspace", "team", "device")
EVENT_NAMES = ("event", "event_name", "event_type", "eventname", "eventtype", "action", "page", "activity",
               "name", "type", "verb", "screen", "step")
PERSONAL_TOKENS = ("name", "email", "mail", "phone", "address", "agent", "ip", "first", "last", "full", "song",
                   "title", "artist", "url", "path", "comment", "text", "description", "method", "auth", "http",
                   "status", "version")
MONEY_TOKENS = ("amount", "price", "revenue", "spend", "cost", "fee", "gmv", "mrr", "arr", "sales", "payment",
                "paid", "eur", "usd", "gbp", "turnover", "income", "charge", "value")
DURATION_TOKENS = ("duration", "length", "seconds", "secs", "sec", "minutes", "mins", "ms", "millis",
                   "milliseconds", "hours", "watch", "listen", "playtime", "dwell")
QUANTITY_TOKENS = ("quantity", "qty", "items", "units", "count", "pages", "distance", "points", "messages",
                   "nights", "seats", "credits")
MAX_DIMENSION_VALUES = 64
MAX_EVENT_VALUES = 500


def tokens(name: str) -> list[str]:
    """`userId` -> [user, id]; `duration_s` -> [duration, s]; `Submit Upgrade` -> [submit, upgrade]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def slug(name: str) -> str:
    """A metric-name fragment: letters, digits and `_`, never starting with a digit."""
    text = "_".join(tokens(name)) or "value"
    return text if text[0].isalpha() else f"e_{text}"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # numeric | integer | string | temporal | boolean | other
    distinct: int
    non_null: int
    minimum: float | None = None
    maximum: float | None = None


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

    def measure(self, column: str) -> Measure | None:
        return next((m for m in self.measures if m.column == column), None)


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
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read {paths[0]} as {fmt}: {first}") from None


def _kind(dtype: Any) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_string():
        return "string"
    if dtype.is_timestamp() or dtype.is_date():
        return "temporal"
    if dtype.is_boolean():
        return "boolean"
    return "other"


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
        lo, hi = row.get(f"lo{i}"), row.get(f"hi{i}")
        columns[name] = Column(name, kind, int(row.get(f"d{i}", 0) or 0), int(row.get(f"n{i}", 0) or 0),
                               None if lo is None or lo != lo else float(lo), None if hi is None or hi != hi else float(hi))
    return int(row["rows"]), columns


def epoch_unit(column: Column) -> str | None:
    """`s`, `ms`, `us` or `ns` when a numeric column's values look like epoch times after 1973."""
    if column.kind not in ("integer", "numeric") or column.minimum is None or column.maximum is None:
        return None
    if column.minimum < 1e8:
        return None
    for unit, limit in (("s", 1e11), ("ms", 1e14), ("us", 1e17), ("ns", 1e20)):
        if column.maximum < limit:
            return unit
    return None


def _name_score(name: str, wanted: tuple[str, ...]) -> int:
    """Higher for a name whose tokens come early in `wanted`; 0 when none matches."""
    found = [wanted.index(t) for t in tokens(name) if t in wanted]
    return len(wanted) - min(found) if found else 0


def guess_timestamp(columns: dict[str, Column]) -> tuple[str | None, str | None]:
    """The event-time column and, for epoch numbers, its unit."""
    temporal = [c for c in columns.values() if c.kind == "temporal" and c.non_null]
    if temporal:
        return max(temporal, key=lambda c: _name_score(c.name, TIMESTAMP_TOKENS)).name, None
    numeric = [(c, epoch_unit(c)) for c in columns.values() if _name_score(c.name, TIMESTAMP_TOKENS)]
    numeric = [(c, unit) for c, unit in numeric if unit]
    if numeric:
        best, unit = max(numeric, key=lambda pair: _name_score(pair[0].name, TIMESTAMP_TOKENS))
        return best.name, unit
    strings = [c for c in columns.values() if c.kind == "string" and tokens(c.name)[-1:] in (["ts"], ["timestamp"])]
    return (strings[0].name, None) if strings else (None, None)


def guess_key(columns: dict[str, Column], rows: int) -> str | None:
    """A column that identifies a row: unique, never null, named like an id."""
    for c in columns.values():
        if c.kind in ("integer", "string") and rows and c.distinct == rows == c.non_null and \
                ({"id", "uuid", "key"} & set(tokens(c.name))):
            return c.name
    return None


def guess_entity(columns: dict[str, Column], rows: int, exclude: set[str]) -> str | None:
    """Who acted: a user/customer/account id-like column that repeats (not a row key)."""
    pool = [c for c in columns.values() if c.kind in ("integer", "string") and c.name not in exclude
            and 1 < c.distinct < rows and _name_score(c.name, ENTITY_TOKENS)
            and not set(tokens(c.name)) & {"name", "email", "agent"}]
    if not pool:
        return None
    return max(pool, key=lambda c: (_name_score(c.name, ENTITY_TOKENS), "id" in tokens(c.name))).name


def guess_event_column(columns: dict[str, Column], exclude: set[str]) -> str | None:
    """A low-cardinality string column holding event names (event, action, page, ...)."""
    pool = [c for c in columns.values() if c.kind == "string" and c.name not in exclude
            and 2 <= c.distinct <= MAX_EVENT_VALUES and not set(tokens(c.name)) & {"first", "last", "full", "user"}]
    scored = [(_name_score("_".join(tokens(c.name)), EVENT_NAMES) * 2 + (c.name.lower() in EVENT_NAMES), c)
              for c in pool]
    scored = [(s, c) for s, c in scored if s]
    return max(scored, key=lambda pair: pair[0])[1].name if scored else None


def guess_dimensions(columns: dict[str, Column], rows: int, exclude: set[str]) -> tuple[str, ...]:
    """Low-cardinality string or boolean columns that are not names, texts or identifiers."""
    out = []
    for c in columns.values():
        words = set(tokens(c.name))
        if c.name in exclude or c.kind not in ("string", "boolean") or words & set(PERSONAL_TOKENS) or "id" in words:
            continue
        if 2 <= c.distinct <= MAX_DIMENSION_VALUES and c.distinct <= max(2, rows // 10):
            out.append(c.name)
    return tuple(out)


def measure_kind(name: str) -> str | None:
    words = tokens(name)
    if "id" in words or "session" in words:
        return None
    for kind, vocabulary in (("money", MONEY_TOKENS), ("duration", DURATION_TOKENS), ("quantity", QUANTITY_TOKENS)):
        if set(words) & set(vocabulary):
            return kind
    return None


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
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
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
