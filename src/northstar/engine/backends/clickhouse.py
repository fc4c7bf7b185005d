"""ClickHouse: a server (`url: http(s)://host:8123`, through Ibis's ClickHouse backend) or, with
no `url`, the embedded ClickHouse `chdb` (Ibis has no chdb backend: expressions are built on
unbound Ibis tables, compiled with the same ClickHouse compiler and run in a chdb session).

Semantics forced to match DuckDB's (see `ExactClickHouseCompiler` and the session settings):
- `nunique` is `uniqExact` (Ibis compiles it to the approximate `uniq`);
- epoch milliseconds / microseconds / nanoseconds become timestamps (Ibis refuses them);
- naive timestamps are UTC (`session_timezone = 'UTC'`), whatever the server's zone;
- an outer join's missing side is NULL, not the type's default (`join_use_nulls = 1`);
- an aggregate over no rows is NULL, not 0 (`aggregate_functions_null_for_empty = 1`);
- weeks start on Monday: Ibis emits `toMonday` / `dateTrunc('WEEK')` (checked in the tests).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.schema as sch
import ibis.expr.types as ir
import sqlglot
import sqlglot.expressions as sge
from ibis.backends.sql.compilers.clickhouse import ClickHouseCompiler
from ibis.backends.sql.datatypes import ClickHouseType

from northstar.engine.backends.base import SPEC_DIALECT, Backend, expand_env, first_line
from northstar.engine.backends.timeformats import clickhouse_format
from northstar.errors import DataError, NorthstarError
from northstar.spec.model import Engine

# Settings for every query, on chdb and on a server.
SETTINGS = {
    "session_timezone": "UTC",  # naive DateTime values are UTC, as on DuckDB
    "join_use_nulls": 1,  # the missing side of an outer join is NULL (DuckDB), not 0 / ''
    # an aggregate over no rows (max/min/avg/sum with a filter that matches nothing) is NULL, as
    # in SQL and DuckDB, not the type's default 0 (the engine fills empty counts and sums itself)
    "aggregate_functions_null_for_empty": 1,
}
_FORMATS = {"parquet": "Parquet", "csv": "CSVWithNames", "json": "JSONEachRow"}
# DuckDB's file-reading table functions in a source's `sql:` and their ClickHouse formats.
_READERS = {"read_csv": "CSVWithNames", "read_csv_auto": "CSVWithNames", "read_parquet": "Parquet",
            "parquet_scan": "Parquet", "read_json": "JSONEachRow", "read_json_auto": "JSONEachRow",
            "read_ndjson": "JSONEachRow", "read_ndjson_auto": "JSONEachRow"}
_UNIX = {"ms": "fromUnixTimestamp64Milli", "us": "fromUnixTimestamp64Micro", "ns": "fromUnixTimestamp64Nano"}


class ExactClickHouseCompiler(ClickHouseCompiler):
    """Ibis's ClickHouse compiler with exact distinct counts and epoch sub-second units."""

    __slots__ = ()

    # SIMPLE_OPS become visit methods when the class is made (a plain `visit_CountDistinct`
    # method would be overwritten by the inherited entry).
    SIMPLE_OPS = {**ClickHouseCompiler.SIMPLE_OPS, ops.CountDistinct: "uniqExact"}

    def visit_Cast(self, op: ops.Cast, *, arg: Any, to: Any) -> Any:
        """A cast to a timestamp of unspecified precision keeps microseconds: Ibis would make
        it ClickHouse's `DateTime` (whole seconds), and a conversion window or a period
        boundary would then see 02:00:00.001 as 02:00:00."""
        if to.is_timestamp() and to.scale is None:
            to = dt.Timestamp(timezone=to.timezone, scale=6, nullable=to.nullable)
        return super().visit_Cast(op, arg=arg, to=to)

    def visit_TimestampFromUNIX(self, op: ops.TimestampFromUNIX, *, arg: Any, unit: Any) -> Any:
        name = _UNIX.get(unit.short)
        if name is None:
            return super().visit_TimestampFromUNIX(op, arg=arg, unit=unit)
        return self.f[name](self.f.toInt64(arg))


COMPILER = ExactClickHouseCompiler()


def compile_sql(expr: ir.Expr, pretty: bool = False) -> str:
    """ClickHouse SQL of an expression, with Northstar's compiler."""
    return COMPILER.to_sqlglot(expr.as_table()).sql(dialect=COMPILER.dialect, pretty=pretty)


# ---- time zones: ClickHouse functions Ibis has no operation for ----------------------------

@ibis.udf.scalar.builtin(name="toTimeZone", signature=((dt.Timestamp(), dt.string), dt.Timestamp()))
def _to_time_zone(ts, zone):  # type: ignore[no-untyped-def]
    """The same instant, shown in `zone`."""


@ibis.udf.scalar.builtin(name="timeZoneOffset", signature=((dt.Timestamp(),), dt.int32))
def _time_zone_offset(ts):  # type: ignore[no-untyped-def]
    """Seconds east of UTC in force at the instant, in the value's own zone."""


@ibis.udf.scalar.builtin(name="parseDateTime64OrNull", signature=((dt.string, dt.string, dt.string),
                                                                   dt.Timestamp(timezone="UTC", scale=6)))
def _parse_date_time64(text, fmt, zone):  # type: ignore[no-untyped-def]
    """ClickHouse's parseDateTime64OrNull(text, MySQL-style format, zone), to the microsecond.
    The OrNull form: ClickHouse runs a function on a NULL row's default '' too, and the plain
    form fails on it; text that does not match is NULL, which the bounds read (before any
    query) counts and reports."""


def _offset(instant: ir.TimestampValue, zone: str) -> ir.IntegerValue:
    """Seconds east of UTC in `zone` at a naive UTC instant."""
    return _time_zone_offset(_to_time_zone(instant, zone))


def _utc_to_local(ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
    naive = ts.cast(dt.Timestamp())  # naive DateTime64 is UTC (session_timezone)
    return (naive + _offset(naive, zone).as_interval("s")).cast(dt.Timestamp())


def _local_to_utc(ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
    """The instant of a wall-clock time, as DuckDB (ICU) resolves it: a time that occurs twice
    (clocks going back) is the later instant, a time that is skipped (clocks going forward) is
    read with the offset before the change. ClickHouse's own parsing in a zone (toDateTime64(text,
    6, zone)) gives the earlier instant and the offset after the change: one hour apart."""
    wall = ts.cast(dt.Timestamp())
    before = _offset(wall - ibis.interval(days=1), zone)
    after = _offset(wall + ibis.interval(days=1), zone)
    late = wall - after.as_interval("s")
    early = wall - before.as_interval("s")
    instant = ibis.ifelse(_offset(late, zone) == after, late, early)
    return instant.cast(dt.Timestamp(timezone="UTC"))


# ---- the backends --------------------------------------------------------------------------

class _ClickHouseBase(Backend):
    name = "clickhouse"
    dialect = "clickhouse"

    def utc_to_local(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if zone == "UTC":
            return ts.cast(dt.Timestamp())
        return _utc_to_local(ts, zone)

    def parse_time(self, text: ir.StringValue, pattern: str) -> ir.TimestampValue:
        # Ibis has no ClickHouse rule for a strptime pattern; parseDateTime64OrNull reads one.
        return _parse_date_time64(text, clickhouse_format(pattern), "UTC")

    def local_to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if zone == "UTC":
            return ts.cast(dt.Timestamp(timezone="UTC"))
        return _local_to_utc(ts, zone)

    def json_text(self, value: ir.Value, key: str) -> ir.Value:
        # Ibis compiles this to JSONExtractString, which unquotes a string and writes a number
        # as text, and gives '' (not NULL) for a missing key.
        item = (value if value.type().is_json() else value.cast("json"))[key]
        return item.cast("string").nullif("")

    def _spec_sql(self, query: str, qualify: dict[str, str] | None = None) -> str:
        """A source's DuckDB SQL in ClickHouse's dialect: DuckDB's file readers become
        `file(path, format)`, and (chdb) the names of this backend's tables are qualified."""
        tree = sqlglot.parse_one(query, read=SPEC_DIALECT)

        def rewrite(node: sge.Expression) -> sge.Expression:
            if isinstance(node, sge.Table) and isinstance(node.this, (sge.Anonymous, sge.Func)):
                func = node.this
                name = (func.name if isinstance(func, sge.Anonymous) else func.sql_name()).lower()
                fmt = _READERS.get(name)
                args = func.expressions if isinstance(func, sge.Anonymous) else [func.this, *func.expressions]
                if fmt is not None and args:
                    call = sge.Anonymous(this="file", expressions=[args[0], sge.Literal.string(fmt)])
                    return sge.Table(this=call, alias=node.args.get("alias"))
            if (qualify and isinstance(node, sge.Table) and isinstance(node.this, sge.Identifier)
                    and not node.db and node.name in qualify):
                node = node.copy()
                node.set("db", sge.to_identifier(qualify[node.name], quoted=True))
            return node

        tree = tree.transform(rewrite)
        # ClickHouse names an unaliased `o.order_id` "o.order_id" when the query joins; DuckDB
        # names it "order_id".
        selects = [tree] if isinstance(tree, sge.Select) else list(tree.find_all(sge.Select))[:0]
        if isinstance(tree, sge.Union):
            selects = [s for s in (tree.left, tree.right) if isinstance(s, sge.Select)]
        for select in selects:
            select.set("expressions", [
                sge.alias_(e, e.name, quoted=True) if isinstance(e, sge.Column) and e.table and isinstance(e.this, sge.Identifier) else e
                for e in select.expressions])
        return tree.sql(dialect=self.dialect)


class ChdbBackend(_ClickHouseBase):
    """The embedded ClickHouse: one database per backend in the process's chdb session (chdb
    sessions share one state), dropped on close."""

    name = "chdb"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.database = f"northstar_{uuid.uuid4().hex[:12]}"
        self._names: dict[str, str] = {}  # source / view name -> the database holding it
        self._counter = itertools.count()
        for key, value in SETTINGS.items():
            self.con.query(f"SET {key} = {value!r}")
        self._run(f"CREATE DATABASE IF NOT EXISTS {self._q(self.database)}")

    @staticmethod
    def _q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def _run(self, query: str, fmt: str = "CSV") -> Any:
        settings = ", ".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in SETTINGS.items())
        return self.con.query(f"{query} SETTINGS {settings}" if _settable(query) else query, fmt)

    def _schema(self, relation: str) -> sch.Schema:
        frame = self._run(f"DESCRIBE {relation}", "DataFrame")
        return sch.Schema({name: ClickHouseType.from_string(kind) for name, kind in zip(frame["name"], frame["type"])})

    def _bind(self, name: str) -> ir.Table:
        self._names[name] = self.database
        schema = self._schema(f"{self._q(self.database)}.{self._q(name)}")
        return ibis.table(schema, name=name, database=self.database)

    def read_files(self, name: str, paths: Sequence[str], fmt: str, text_columns: Sequence[str] = ()) -> ir.Table:
        kind = _FORMATS.get(fmt)
        if kind is None:
            raise DataError(f"unknown file format '{fmt}'")
        target = f"{self._q(self.database)}.{self._q(name)}"
        selects = _file_selects([str(Path(p).resolve()) for p in paths], kind, text_columns)
        self._run(f"DROP VIEW IF EXISTS {target}")
        # A view: every query reads the files itself (no copy; measured at 100M events, copying
        # into a MergeTree table took 23 s and made the queries no faster).
        self._run(f"CREATE VIEW {target} AS {selects}")
        # ClickHouse reads every Parquet timestamp as DateTime64(.., 'UTC'), a naive one too; with
        # the session in UTC the stored value is the same, so the naive ones are typed naive for
        # Ibis (wall-clock time, read in the source's `timezone`), as DuckDB reads them.
        naive = set(_naive_timestamps(paths[0])) if fmt == "parquet" else set()
        table = self._bind(name)
        if not naive:
            return table
        schema = sch.Schema({c: (dt.Timestamp(scale=t.scale, nullable=t.nullable) if c in naive and t.is_timestamp() else t)
                             for c, t in table.schema().items()})
        return ibis.table(schema, name=name, database=self.database)

    def table(self, name: str) -> ir.Table:
        if name in self._names:
            return self._bind(name)
        database, _, table = name.rpartition(".")
        database = database or "default"
        schema = self._schema(f"{self._q(database)}.{self._q(table)}")
        return ibis.table(schema, name=table, database=database)

    def sql(self, query: str) -> ir.Table:
        text = self._spec_sql(query, dict(self._names))
        name = f"__sql_{next(self._counter)}"
        self._run(f"CREATE VIEW {self._q(self.database)}.{self._q(name)} AS {text}")
        return self._bind(name)

    @contextlib.contextmanager
    def cache(self, table: ir.Table) -> Iterator[ir.Table]:
        name = f"__cache_{next(self._counter)}"
        target = f"{self._q(self.database)}.{self._q(name)}"
        self._run(f"CREATE TABLE {target} ENGINE = MergeTree ORDER BY tuple() AS {compile_sql(table)}")
        try:
            # Ibis's schema, not DESCRIBE's: ClickHouse stores a boolean expression as UInt8.
            self._names[name] = self.database
            yield ibis.table(table.schema(), name=name, database=self.database)
        finally:
            self._names.pop(name, None)
            with contextlib.suppress(Exception):
                self._run(f"DROP TABLE IF EXISTS {target}")

    def execute(self, expr: ir.Expr, what: str | None = None) -> Any:
        if what is None:
            return self._execute(expr)
        try:
            return self._execute(expr)
        except NorthstarError:
            raise
        except Exception as exc:
            raise DataError(f"{what} failed: {first_line(exc)}") from None

    def _execute(self, expr: ir.Expr) -> Any:
        import pandas as pd
        from ibis.formats.pandas import PandasData

        table = expr.as_table()
        schema = table.schema()
        arrow = self._run(compile_sql(table), "ArrowTable")
        frame = pd.DataFrame({name: _naive_utc(arrow.column(i).to_pandas(), schema[name])
                              for i, name in enumerate(schema.names)})
        if arrow.num_rows == 0:
            frame = pd.DataFrame({name: pd.Series(dtype=object) for name in schema.names})
        frame = PandasData.convert_table(frame, schema)
        return expr.__pandas_result__(frame)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(f"DROP DATABASE IF EXISTS {self._q(self.database)}")


class ClickHouseServerBackend(_ClickHouseBase):
    """A ClickHouse server through Ibis (clickhouse-connect), with Northstar's compiler."""

    def sql(self, query: str) -> ir.Table:
        return self.con.sql(self._spec_sql(query), dialect=self.dialect)

    def read_files(self, name: str, paths: Sequence[str], fmt: str, text_columns: Sequence[str] = ()) -> ir.Table:
        kind = _FORMATS.get(fmt)
        if kind is None:
            raise DataError(f"unknown file format '{fmt}'")
        # The server reads the files itself (they must be in its user_files path).
        selects = _file_selects(list(paths), kind, text_columns)
        self.con.raw_sql(f"CREATE OR REPLACE TABLE `{name}` ENGINE = MergeTree ORDER BY tuple() AS {selects}")
        return self.con.table(name)


def _file_selects(paths: Sequence[str], kind: str, text_columns: Sequence[str]) -> str:
    """SELECTs of the files, one per file. ClickHouse's schema inference reads text such as
    02/01/2011 as a date, day- or month-first value by value: `text_columns` (a timestamp
    with a `time_format`) are hinted to stay String, for the pattern to read."""
    if not text_columns:
        return " UNION ALL ".join(f"SELECT * FROM file({_string(p)}, {kind})" for p in paths)
    hints = _string(", ".join(f"`{c.replace('`', '``')}` Nullable(String)" for c in text_columns))
    return " UNION ALL ".join(f"SELECT * FROM (SELECT * FROM file({_string(p)}, {kind}) "
                              f"SETTINGS schema_inference_hints = {hints})" for p in paths)


def _naive_timestamps(path: str) -> list[str]:
    """The Parquet file's timestamp columns without a time zone (from its footer only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    return [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.tz is None]


def _settable(query: str) -> bool:
    """Queries that take a SETTINGS clause (the session has them too: belt and braces)."""
    return query.lstrip().split(None, 1)[0].upper() in ("SELECT", "WITH", "DESCRIBE")


def _string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _naive_utc(series: Any, dtype: dt.DataType) -> Any:
    """chdb hands naive DateTime values back in the session's zone (UTC): drop the zone where
    Ibis expects a naive timestamp."""
    import pandas as pd

    if (dtype.is_timestamp() or dtype.is_date()) and pd.api.types.is_integer_dtype(series.dtype):
        # chdb hands some DateTime / Date columns to Arrow as their numbers (seconds, days).
        series = pd.to_datetime(series.astype("Int64"), unit="s" if dtype.is_timestamp() else "D")
        if dtype.is_date():
            return series.dt.date
        if dtype.timezone is not None:  # epoch seconds are instants
            return series.dt.tz_localize("UTC").dt.tz_convert(dtype.timezone).dt.as_unit("ns")
    if not dtype.is_timestamp() or not hasattr(series, "dt"):
        return series
    if getattr(series.dtype, "tz", None) is not None and dtype.timezone is None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    # Arrow's second / millisecond units are kept by pandas: nanoseconds, as DuckDB's results.
    return series.dt.as_unit("ns")


def connect(engine: Engine, base_dir: Path) -> Backend:
    """A ClickHouse server from `url` (credentials may come from `${VAR}`), or chdb."""
    if engine.url:
        url = urlparse(expand_env(engine.url, "engine url"))
        options = {k: v[-1] for k, v in parse_qs(url.query).items()}
        database = engine.database if engine.database != ":memory:" else url.path.strip("/") or "default"
        try:
            con = ibis.clickhouse.connect(
                host=url.hostname or "localhost", port=url.port or (8443 if url.scheme == "https" else 8123),
                user=unquote(url.username) if url.username else "default",
                password=unquote(url.password) if url.password else "",
                database=database, secure=url.scheme == "https",
                settings={**SETTINGS, **options})
        except Exception as exc:
            # The message may echo the URL: name only the host.
            raise DataError(f"cannot connect to ClickHouse at {url.hostname}: "
                            f"{_redact(first_line(exc), url.password)}") from None
        con.compiler = COMPILER  # exact distinct counts, epoch units
        return ClickHouseServerBackend(con)
    try:
        from chdb import session
    except ImportError as exc:
        raise DataError(f"engine type 'clickhouse' without `url` needs chdb: pip install chdb ({first_line(exc)})") from None
    return ChdbBackend(session.Session())


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text
