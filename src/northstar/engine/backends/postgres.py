"""PostgreSQL, through its driver psycopg: `engine: {type: postgres, url: postgresql://...}`.

The url may hold `${VAR}` references (credentials), expanded from the environment when the
engine connects; neither the url nor the password appears in errors or logs. `database:`
names the database when the url has none. The session's TimeZone is UTC, so naive
timestamps are UTC instants as on every engine; local time uses `AT TIME ZONE`.

Sources that are tables (`table:`) or SQL (`sql:`, written in DuckDB's dialect and transpiled)
run in PostgreSQL. PostgreSQL cannot read files itself, so a `path:` source (Parquet, CSV,
JSON lines), and a file-reading table function in a source's SQL (`read_csv('x.csv')`), is
read with DuckDB's readers (the same column types as the default engine), copied into a
TEMPORARY table through the driver (COPY) once per connection, and dropped when the
connection closes. That is meant for small files and tests: in production, point sources at
tables with `table:` so that no data travels.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import sqlglot
from ibis.backends.sql.compilers.postgres import PostgresCompiler

from northstar.engine.backends.base import Backend, expand_env, file_functions, first_line
from northstar.engine.backends.timeformats import postgres_template
from northstar.spec.timeformat import has_offset
from northstar.errors import DataError
from northstar.spec.model import Engine


@ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, dt.Timestamp(timezone="UTC")), dt.Timestamp()))
def _pg_utc_to_local(zone, ts):  # type: ignore[no-untyped-def]
    """PostgreSQL's timezone(zone, timestamptz), i.e. `ts AT TIME ZONE zone`: the wall-clock time."""


@ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, dt.Timestamp()), dt.Timestamp(timezone="UTC")))
def _pg_local_to_utc(zone, ts):  # type: ignore[no-untyped-def]
    """PostgreSQL's timezone(zone, timestamp): the instant of a wall-clock time in `zone`."""


@ibis.udf.scalar.builtin(name="to_timestamp", signature=((dt.float64,), dt.Timestamp(timezone="UTC")))
def _pg_to_timestamp(seconds):  # type: ignore[no-untyped-def]
    """PostgreSQL's to_timestamp(double precision): the instant `seconds` after the epoch."""


@ibis.udf.scalar.builtin(name="to_timestamp", signature=((dt.string, dt.string), dt.Timestamp(timezone="UTC")))
def _pg_parse(text, template):  # type: ignore[no-untyped-def]
    """PostgreSQL's to_timestamp(text, template), in the session's zone (UTC)."""


@ibis.udf.scalar.builtin(name="div", signature=((dt.int64, dt.int64), dt.int64))
def _pg_div(left, right):  # type: ignore[no-untyped-def]
    """PostgreSQL's div(): the integer quotient, exactly (Ibis's `//` divides as doubles, which
    hold 16 digits; nanoseconds of our era have 19)."""


@ibis.udf.scalar.builtin(name="regexp_replace", signature=((dt.string, dt.string, dt.string), dt.string))
def _pg_regexp_replace(text, pattern, replacement):  # type: ignore[no-untyped-def]
    """PostgreSQL's regexp_replace (the first match)."""


class _Compiler(PostgresCompiler):
    """Ibis's PostgreSQL compiler, but a boolean cast to a bigint goes through integer
    (PostgreSQL casts boolean to int4 only; DuckDB allows `flag::int8`), and an integer divided
    by an integer is a float division (PostgreSQL would truncate)."""

    def visit_Cast(self, op, *, arg, to):  # type: ignore[no-untyped-def]
        if op.arg.dtype.is_boolean() and to.is_integer() and not to.is_int32():
            arg = self.cast(arg, dt.int32)
        return super().visit_Cast(op, arg=arg, to=to)

    visit_TryCast = visit_Cast

    def visit_Divide(self, op, *, left, right):  # type: ignore[no-untyped-def]
        """`/` divides exactly, as in the spec's (DuckDB's) SQL: PostgreSQL truncates int / int."""
        if op.left.dtype.is_integer() and op.right.dtype.is_integer():
            left = self.cast(left, dt.float64)
        return super().visit_Divide(op, left=left, right=right)


_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class PostgresBackend(Backend):
    name = "postgres"
    dialect = "postgres"
    null_safe_full_join = False  # FULL JOIN needs merge- or hash-joinable (equality) conditions

    def __init__(self, con: Any) -> None:
        super().__init__(con)
        self._loaded: dict[str, tuple[Any, ...]] = {}  # temp table -> what it was loaded from
        self._reader: Any = None  # a DuckDB connection that reads files

    # ---- files: read by DuckDB, copied into temporary tables ------------------------------

    def _duckdb(self) -> Any:
        if self._reader is None:
            from northstar.engine.backends.duckdb import DuckDBBackend

            con = ibis.duckdb.connect()
            con.raw_sql("SET TimeZone = 'UTC'")
            con.raw_sql("SET enable_progress_bar = false")
            self._reader = DuckDBBackend(con)
        return self._reader

    def read_files(self, name: str, paths: Sequence[str], fmt: str, text_columns: Sequence[str] = ()) -> ir.Table:
        origin = ("files", tuple(paths), fmt, tuple(text_columns))
        if self._loaded.get(name) != origin:
            reader = self._duckdb()
            self._load(name, reader.read_files(f"t_{uuid.uuid4().hex}", paths, fmt, text_columns))
            self._loaded[name] = origin
        return self.con.table(name)

    def sql(self, query: str) -> ir.Table:
        rewritten, reads = file_functions(query)
        for read in reads:
            origin = ("sql", read.call)
            if self._loaded.get(read.name) != origin:
                self._load(read.name, self._duckdb().con.sql(f"SELECT * FROM {read.call}", dialect="duckdb"))
                self._loaded[read.name] = origin
        return super().sql(rewritten)

    def _load(self, name: str, table: ir.Table) -> None:
        """`table` (on DuckDB) copied into the temporary table `name`."""
        schema = table.schema()
        fixes = {c: table[c].cast("string") for c, t in schema.items() if t.is_null() or t.is_nested() or t.is_json()}
        if fixes:  # no PostgreSQL type for these: kept as text
            table = table.mutate(**fixes)
            schema = table.schema()
        data = table.to_pyarrow()
        ident = sqlglot.exp.to_identifier(name, quoted=True).sql(self.dialect)
        columns = ", ".join(sqlglot.exp.to_identifier(c, quoted=True).sql(self.dialect) for c in schema.names)
        definition = ", ".join(d.sql(self.dialect) for d in schema.to_sqlglot_column_defs(self.dialect))
        con = self.con.con
        with con.cursor() as cursor, con.transaction():
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{ident}")
            cursor.execute(f"CREATE TEMPORARY TABLE {ident} ({definition})")
            with cursor.copy(f"COPY {ident} ({columns}) FROM STDIN") as copy:
                for batch in data.to_batches(max_chunksize=65536):
                    for row in zip(*(column.to_pylist() for column in batch.columns)):
                        copy.write_row(row)
            # Temporary tables are never analysed by autovacuum: without statistics the
            # planner guesses the sizes of joins and aggregations badly.
            cursor.execute(f"ANALYZE {ident}")

    # ---- time ----------------------------------------------------------------------------

    def from_epoch(self, value: ir.IntegerValue, unit: str) -> ir.TimestampValue:
        # Ibis has no PostgreSQL rule for epoch numbers; to_timestamp keeps microseconds
        # (exact for s and ms epochs of our era: PostgreSQL rounds the double to the microsecond).
        if unit in ("us", "ns"):
            # A double holds 16 digits: whole seconds and the microseconds are added apart.
            micros = value.cast("int64") if unit == "us" else _pg_div(value.cast("int64"), 1000).cast("int64")
            whole = _pg_to_timestamp(_pg_div(micros, 1_000_000).cast("float64")).cast(dt.Timestamp())
            return whole + (micros % 1_000_000).as_interval("us")
        seconds = value.cast("float64") / _PER_SECOND[unit] if unit != "s" else value.cast("float64")
        return _pg_to_timestamp(seconds).cast(dt.Timestamp())

    def parse_time(self, text: ir.StringValue, pattern: str) -> ir.TimestampValue:
        if has_offset(pattern):
            # Python's %z reads +0200 and +02:00; to_timestamp's TZHTZM the first only.
            text = _pg_regexp_replace(text, r"([+-][0-9]{2}):([0-9]{2})", r"\1\2")
        return _pg_parse(text, postgres_template(pattern))

    def utc_to_local(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if zone == "UTC":
            return ts.cast(dt.Timestamp())
        return _pg_utc_to_local(zone, ts.cast(dt.Timestamp(timezone="UTC")))

    def local_to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if zone == "UTC":
            return ts.cast(dt.Timestamp(timezone="UTC"))
        return _pg_local_to_utc(zone, ts.cast(dt.Timestamp()))

    @contextlib.contextmanager
    def cache(self, table: ir.Table) -> Iterator[ir.Table]:
        name = f"__northstar_cache_{uuid.uuid4().hex[:12]}"
        cached = self.con.create_table(name, table, temp=True)
        try:
            self.con.raw_sql(f'ANALYZE "{name}"').close()
            yield cached
        finally:
            with contextlib.suppress(Exception):
                self.con.drop_table(name, force=True)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        super().close()


def connect(engine: Engine, base_dir: Path) -> PostgresBackend:
    """A PostgreSQL server from the spec's `url` (postgresql://user:password@host:port/db)."""
    assert engine.url is not None  # the model requires it
    url = expand_env(engine.url, "engine url")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise DataError(f"engine url must start with postgresql:// (got '{parts.scheme}://...')")
    database = unquote(parts.path.lstrip("/")) or (engine.database if engine.database != ":memory:" else None)
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    schema = options.pop("schema", None)
    try:
        con = ibis.postgres.connect(host=parts.hostname or None, port=parts.port or 5432,
                                    user=unquote(parts.username) if parts.username else None,
                                    password=unquote(parts.password) if parts.password else None,
                                    database=database, schema=schema, **options)
    except Exception as exc:
        message = first_line(exc)
        if parts.password:
            message = message.replace(unquote(parts.password), "***")
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{database or ''}"
        raise DataError(f"cannot connect to PostgreSQL at {where}: {message}") from None
    con.raw_sql("SET TimeZone = 'UTC'").close()
    con.compiler = _Compiler()
    return PostgresBackend(con)
