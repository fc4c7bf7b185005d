"""DuckDB, embedded: the default engine (a database file or memory; reads Parquet, CSV and
JSON files itself with what is built in, no extension is installed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from northstar.engine.backends.base import Backend
from northstar.engine.csvshape import DELIMITERS, binary, first_ragged_row
from northstar.errors import DataError, first_line
from northstar.spec.model import Engine


@ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, dt.Timestamp(timezone="UTC")), dt.Timestamp()))
def _duckdb_utc_to_local(zone, ts):  # type: ignore[no-untyped-def]
    """DuckDB's timezone(zone, timestamptz): the wall-clock time in `zone`."""


@ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, dt.Timestamp()), dt.Timestamp(timezone="UTC")))
def _duckdb_local_to_utc(zone, ts):  # type: ignore[no-untyped-def]
    """DuckDB's timezone(zone, timestamp): the instant of a wall-clock time in `zone`."""


@ibis.udf.scalar.builtin(name="make_timestamp", signature=((dt.int64,), dt.Timestamp()))
def _duckdb_from_micros(micros):  # type: ignore[no-untyped-def]
    """DuckDB's make_timestamp(microseconds since the epoch)."""


@ibis.udf.scalar.builtin(name="divide", signature=((dt.int64, dt.int64), dt.int64))
def _duckdb_int_divide(left, right):  # type: ignore[no-untyped-def]
    """DuckDB's integer division. Ibis's `//` divides as doubles: nanoseconds of our era have
    19 digits, a double 16, and 23:59:59.999999999 became the next day."""


def _raise_ragged(name: str, paths: Sequence[str]) -> None:
    """A DataError naming the first row that does not fit its file's header, if one does not."""
    for path in paths:
        if binary(path):
            raise DataError(f"source '{name}': {Path(path).name} holds binary data, not CSV text")
        ragged = first_ragged_row(path)
        if ragged is not None:
            raise DataError(ragged.message(name))


class DuckDBBackend(Backend):
    name = "duckdb"

    def read_files(self, name: str, paths: Sequence[str], fmt: str, text_columns: Sequence[str] = ()) -> ir.Table:
        sources = list(paths) if len(paths) > 1 else paths[0]
        if fmt == "parquet":
            return self.con.read_parquet(sources, table_name=name)
        if fmt == "csv":
            # The CSV sniffer reads 01/02/2011 as a date, day-first, without saying so: a column
            # with a `time_format` stays text, for the pattern to read.
            options = {"types": {c: "VARCHAR" for c in text_columns}} if text_columns else {}
            try:
                table = self.con.read_csv(sources, table_name=name, **options)
            except Exception:
                _raise_ragged(name, paths)
                raise
            if len(table.columns) == 1 and any(d in table.columns[0] for d in DELIMITERS):
                _raise_ragged(name, paths)  # one column named after the header line: a row does not fit
            return table
        if fmt == "json":
            return self.con.read_json(sources, table_name=name)
        raise DataError(f"unknown file format '{fmt}'")

    def from_epoch(self, value: ir.IntegerValue, unit: str) -> ir.TimestampValue:
        # Ibis's DuckDB rule takes s and ms only; DuckDB keeps microseconds.
        if unit == "us":
            return _duckdb_from_micros(value.cast("int64"))
        if unit == "ns":
            return _duckdb_from_micros(_duckdb_int_divide(value.cast("int64"), 1000))
        return super().from_epoch(value, unit)

    def utc_to_local(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if zone == "UTC":
            return ts.cast(dt.Timestamp())
        return _duckdb_utc_to_local(zone, ts.cast(dt.Timestamp(timezone="UTC")))

    def local_to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if zone == "UTC":
            return ts.cast(dt.Timestamp(timezone="UTC"))
        return _duckdb_local_to_utc(zone, ts.cast(dt.Timestamp()))


def connect(engine: Engine, base_dir: Path) -> DuckDBBackend:
    """A DuckDB file (relative to the spec's folder) or memory; a database that cannot be opened
    (a folder, a file of another kind, a setting DuckDB refuses) is a one-line DataError naming
    `engine.database` or the setting."""
    database = engine.database
    if database != ":memory:":
        path = Path(database)
        if not path.is_absolute():
            path = base_dir / path
        if path.is_dir():
            raise DataError(f"engine.database: '{database}' is a folder; give a database file, e.g. "
                            ".northstar/northstar.duckdb (or :memory:)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"engine.database: cannot create the folder of '{database}': "
                            f"{exc.strerror or exc}") from None
        database = str(path)
    config: dict[str, Any] = {}
    if engine.threads:
        config["threads"] = engine.threads
    if engine.memory_limit:
        config["memory_limit"] = engine.memory_limit
    try:
        con = ibis.duckdb.connect(database, **config)
    except Exception as exc:
        where = "engine.database" if database != ":memory:" else "engine"
        raise DataError(f"{where}: DuckDB cannot open '{engine.database}' with these settings: "
                        f"{first_line(exc)}") from None
    # Naive timestamps are read as UTC whatever the machine's zone is.
    con.raw_sql("SET TimeZone = 'UTC'")
    # The progress bar would write to the user's terminal. In Jupyter it is off already, and DuckDB
    # refuses to change it there (even to off) without ipywidgets installed.
    if con.raw_sql("SELECT current_setting('enable_progress_bar')").fetchone()[0]:
        con.raw_sql("SET enable_progress_bar = false")
    return DuckDBBackend(con)


def sandbox(backend: DuckDBBackend, folder: Path) -> None:
    """Confine DuckDB to `folder` for the connection's life (an untrusted spec's data): no file
    outside it, no URL, no extension installed, and no setting changed afterwards. The spec's
    static checks (spec/untrusted.py) refuse what they can read; this holds where they cannot
    see (a path built in SQL at run time)."""
    quoted = str(folder.resolve()).replace("'", "''")
    backend.con.raw_sql(f"SET allowed_directories = ['{quoted}/']")
    backend.con.raw_sql("SET enable_external_access = false")
    backend.con.raw_sql("SET lock_configuration = true")
