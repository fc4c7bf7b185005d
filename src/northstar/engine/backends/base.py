"""The interface every engine implements: Ibis builds the queries, a backend only runs them
and supplies what Ibis leaves to each engine (reading files, time-zone conversion, caching a
narrow table, the dialect of a source's SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import contextlib
import os
import re
from collections.abc import Iterator

import ibis.expr.types as ir
import sqlglot

from northstar.errors import DataError, NorthstarError

SPEC_DIALECT = "duckdb"  # the dialect of a source's `sql:` in the spec, on every engine
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Backend:
    """What the engine layer needs from an Ibis backend."""

    name = "base"

    def __init__(self, con: Any) -> None:
        self.con = con

    def read_files(self, name: str, paths: Sequence[str], fmt: str) -> ir.Table:
        raise NotImplementedError

    def utc_to_local(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        raise NotImplementedError

    def local_to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        raise NotImplementedError

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    dialect = "duckdb"  # sqlglot's name for the engine's SQL

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




def expand_env(text: str, what: str) -> str:
    """`text` with each `${VAR}` replaced from the environment; a missing one is a one-line
    error naming the variable (never the value)."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise DataError(f"{what}: environment variable {name} is not set")
        return os.environ[name]

    return _VAR.sub(value, text)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
