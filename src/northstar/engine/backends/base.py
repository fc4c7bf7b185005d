"""The interface every engine implements: Ibis builds the queries, a backend only runs them
and supplies what Ibis leaves to each engine (reading files, time-zone conversion, caching a
narrow table, the dialect of a source's SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import ibis.expr.types as ir
import sqlglot

from northstar import envvars
from northstar.errors import DataError, NorthstarError, first_line

SPEC_DIALECT = "duckdb"  # the dialect of a source's `sql:` in the spec, on every engine


class Backend:
    """What the engine layer needs from an Ibis backend."""

    name = "base"

    def __init__(self, con: Any) -> None:
        self.con = con

    def read_files(self, name: str, paths: Sequence[str], fmt: str, text_columns: Sequence[str] = ()) -> ir.Table:
        """The files as a table; `text_columns` are kept as the text they are (a timestamp
        with a `time_format`: the engine's own guess at a date format must not read it first)."""
        raise NotImplementedError

    def utc_to_local(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        raise NotImplementedError

    def local_to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        raise NotImplementedError

    def from_epoch(self, value: ir.IntegerValue, unit: str) -> ir.TimestampValue:
        """A naive UTC timestamp from epoch numbers in `unit` (s, ms, us, ns)."""
        return value.as_timestamp(unit)

    def parse_time(self, text: ir.StringValue, pattern: str) -> ir.TimestampValue:
        """Text read with a strptime pattern (a source's `time_format`); the result is typed
        UTC by Ibis: with `%z` it is the instant, without it the wall-clock time read as UTC.
        Ibis passes the pattern to DuckDB's strptime as it is."""
        return text.as_timestamp(pattern)

    def json_text(self, value: ir.Value, key: str) -> ir.Value:
        """The value at `key` of a JSON object (a property path into JSON text) as text."""
        from northstar.engine.properties import json_text

        return json_text(value, key)

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    dialect = "duckdb"  # sqlglot's name for the engine's SQL
    null_safe_full_join = True  # can FULL OUTER JOIN on IS NOT DISTINCT FROM (PostgreSQL cannot)

    def sql(self, query: str) -> ir.Table:
        """A source's `sql:` (written in DuckDB's dialect, checked by the spec) on this engine."""
        if self.dialect != SPEC_DIALECT:
            query = sqlglot.transpile(query, read=SPEC_DIALECT, write=self.dialect)[0]
        return self.con.sql(query, dialect=self.dialect)

    @contextlib.contextmanager
    def cache(self, table: ir.Table) -> Iterator[ir.Table]:
        """`table` materialised in the engine (a temporary table) for the `with` block."""
        with table.cache() as cached:
            yield cached

    def close(self) -> None:
        """Release the engine (connections, sessions); the backend is not used after this."""
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect is not None:
            with contextlib.suppress(Exception):
                disconnect()

    def execute(self, expr: ir.Expr, what: str | None = None) -> Any:
        """Run an expression; with `what`, an engine failure becomes a one-line DataError
        "<what> failed: <the engine's first line>" (Northstar's own errors pass unchanged)."""
        if what is None:
            return expr.execute()
        try:
            return expr.execute()
        except NorthstarError:
            raise
        except Exception as exc:
            raise DataError(f"{what} failed: {first_line(exc)}") from None




# DuckDB's table functions that read files, as a source's `sql:` may use them (`from
# read_csv('customers.csv') c`), and the format each reads.
FILE_FUNCTIONS = {"read_csv": "csv", "read_csv_auto": "csv", "readcsv": "csv", "read_parquet": "parquet",
                  "readparquet": "parquet", "parquet_scan": "parquet", "read_json": "json",
                  "read_json_auto": "json", "read_ndjson": "json", "read_ndjson_auto": "json"}


@dataclass(frozen=True)
class FileRead:
    """One file-reading table function in a source's SQL (for engines that cannot run it)."""

    name: str  # the table that replaces it in the rewritten SQL
    fmt: str  # csv | parquet | json
    paths: tuple[str, ...]  # the literal paths (empty when not literals)
    options: bool  # the call has options beyond the path (header=..., columns=...)
    call: str  # the call in DuckDB's SQL, e.g. "read_csv('a.csv', header = TRUE)"


def file_functions(query: str) -> tuple[str, list[FileRead]]:
    """A source's SQL (DuckDB dialect) with each file-reading table function replaced by a
    table name, and what those tables must hold. Engines that cannot read files from SQL
    register the files under those names, then run the rewritten SQL."""
    tree = sqlglot.parse_one(query, read=SPEC_DIALECT)
    reads: dict[str, FileRead] = {}
    for table in list(tree.find_all(sqlglot.exp.Table)):
        call = table.this
        if not isinstance(call, sqlglot.exp.Func):
            continue
        fname = (call.name if isinstance(call, sqlglot.exp.Anonymous) else type(call).__name__).lower()
        fmt = FILE_FUNCTIONS.get(fname)
        if fmt is None:
            continue
        args = [a for a in [call.args.get("this"), *call.expressions] if isinstance(a, sqlglot.exp.Expression)]
        first = args[0] if args else None
        items = first.expressions if isinstance(first, sqlglot.exp.Array) else [first]
        paths = tuple(str(i.this) for i in items if isinstance(i, sqlglot.exp.Literal) and i.is_string)
        text = call.sql(SPEC_DIALECT)
        name = "__northstar_file_" + hashlib.sha1(text.encode()).hexdigest()[:12]
        reads[name] = FileRead(name, fmt, paths if len(paths) == len(items) else (), len(args) > 1, text)
        replacement = sqlglot.exp.Table(this=sqlglot.exp.to_identifier(name))
        if table.args.get("alias") is not None:
            replacement.set("alias", table.args["alias"])
        table.replace(replacement)
    return tree.sql(SPEC_DIALECT), list(reads.values())


def expand_env(text: str, what: str) -> str:
    """`text` with each `${VAR}` replaced from the environment; a missing one is a one-line
    error naming the variable (never the value)."""
    return envvars.expand(text, lambda name: DataError(f"{what}: environment variable {name} is not set"))
