"""Turn a spec's sources into Ibis tables on a backend, with clear errors for bad data."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from northstar.engine.backends import Backend
from northstar.engine.properties import with_computed_entity, with_paths
from northstar.errors import DataError, first_line
from northstar.spec.load import LoadedSpec
from northstar.spec.model import Source

_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".json": "json",
               ".jsonl": "json", ".ndjson": "json"}


def column_kind(dtype: dt.DataType) -> str:
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_string():
        return "string"
    if dtype.is_timestamp() or dtype.is_date():
        return "temporal"
    if dtype.is_boolean():
        return "boolean"
    return "other"


@dataclass(frozen=True)
class BoundSource:
    name: str
    source: Source
    table: ir.Table
    where: str  # for messages: the file, table or "sql of source X"

    @property
    def columns(self) -> dict[str, str]:
        return {name: column_kind(dtype) for name, dtype in self.table.schema().items()}


def _file_format(source: Source, path: str, name: str) -> str:
    if source.format:
        return source.format
    suffix = Path(path).suffix.lower()
    if suffix in (".gz", ".zst"):
        suffix = Path(path[: -len(suffix)]).suffix.lower()
    fmt = _EXTENSIONS.get(suffix)
    if fmt is None:
        raise DataError(f"source '{name}': cannot tell the format of '{path}' from its extension; "
                        "add `format: csv`, `parquet` or `json`")
    return fmt


def source_files(source: Source, base_dir: Path) -> list[str]:
    """The files a `path:` source reads now (its glob expanded, sorted)."""
    assert source.path is not None
    pattern = source.path if Path(source.path).is_absolute() else str(base_dir / source.path)
    return sorted(glob.glob(pattern)) if any(ch in pattern for ch in "*?[") else [pattern]


def _bind_files(backend: Backend, name: str, source: Source, base_dir: Path) -> BoundSource:
    paths = source_files(source, base_dir)
    if not paths:
        raise DataError(f"source '{name}': no file matches '{source.path}' (looked in {base_dir})")
    for path in paths:
        p = Path(path)
        if not p.exists():
            raise DataError(f"source '{name}': data file not found: {source.path} (looked for {p})")
        if p.is_dir():
            raise DataError(f"source '{name}': {source.path} is a folder; use a glob such as {source.path}/*.parquet")
        if p.stat().st_size == 0:
            raise DataError(f"source '{name}': data file is empty: {path}")
    fmt = _file_format(source, paths[0], name)
    # A timestamp read with a pattern is read as text: a reader's own date guess comes first otherwise.
    text_columns = [source.timestamp] if source.time_format and source.timestamp else []
    try:
        table = backend.read_files(name, paths, fmt, text_columns) if text_columns else backend.read_files(name, paths, fmt)
    except DataError:
        raise
    except Exception as exc:
        first = first_line(exc)
        raise DataError(f"source '{name}': cannot read {source.path} as {fmt}: {first}") from None
    return BoundSource(name, source, table, source.path)


def csv_text_sample(source: Source, base_dir: Path, limit: int) -> list[str] | None:
    """The first values of a CSV source's timestamp column as the text in the file (None for
    other sources). CSV readers turn text such as 01/02/2011 into dates by their own guess
    (DuckDB day-first, ClickHouse value by value); `validate` compares it with this text."""
    if source.path is None or source.timestamp is None:
        return None
    paths = [p for p in source_files(source, base_dir) if Path(p).is_file()]
    try:
        if not paths or _file_format(source, paths[0], "") != "csv":
            return None
    except DataError:
        return None
    import ibis

    con = ibis.duckdb.connect()
    try:
        table = con.read_csv(paths, types={source.timestamp: "VARCHAR"})
        column = table[source.timestamp]
        sample = table.filter(column.notnull() & (column != "")).select(column).limit(limit)
        return [str(value) for value in sample.execute()[source.timestamp]]
    except Exception:  # the file is read (and its errors reported) by the source itself
        return None
    finally:
        con.disconnect()


def _decimals_as_floats(table: ir.Table) -> ir.Table:
    """Decimal columns as float64: Ibis keeps a decimal's scale through `avg` and `/`, so a
    DECIMAL(38,0) (what DuckDB infers for a JSON column whose sample is all null) would round
    an average to a whole number."""
    decimals = {name: table[name].cast("float64") for name, dtype in table.schema().items() if dtype.is_decimal()}
    return table.mutate(**decimals) if decimals else table


def bind_sources(backend: Backend, loaded: LoadedSpec, names: list[str] | None = None) -> dict[str, BoundSource]:
    """Register the sources (all, or `names` and what their SQL reads) on the backend."""
    spec = loaded.spec
    from northstar.spec.validate import sql_source_references

    wanted: list[str] = []

    def want(name: str) -> None:
        if name in wanted or name not in spec.sources:
            return
        source = spec.sources[name]
        if source.sql:
            for ref in sql_source_references(source.sql) or []:
                want(ref)
        wanted.append(name)  # dependencies first

    for name in names if names is not None else list(spec.sources):
        want(name)
    bound: dict[str, BoundSource] = {}
    for name in wanted:
        source = spec.sources[name]
        if source.path is not None:
            bound[name] = _bind_files(backend, name, source, loaded.base_dir)
        elif source.table is not None:
            try:
                table = backend.table(source.table)
            except Exception:
                raise DataError(f"source '{name}': table '{source.table}' does not exist in the engine") from None
            bound[name] = BoundSource(name, source, table, f"table {source.table}")
        else:
            assert source.sql is not None
            try:
                table = backend.sql(source.sql)
                table.schema()
            except Exception as exc:
                first = first_line(exc)
                raise DataError(f"source '{name}': its `sql` does not run: {first}") from None
            bound[name] = BoundSource(name, source, table, f"sql of source {name}")
    return {name: BoundSource(b.name, b.source, _with_spec_columns(backend, loaded, b), b.where)
            for name, b in bound.items()}


def spec_paths(loaded: LoadedSpec, name: str) -> list[str]:
    """The property paths the spec reads from source `name`: its dimensions and its metrics'
    `where`/`expr`/`from`/`to` (paths have a dot; engine/properties.py)."""
    from northstar.spec.expressions import ExpressionError, parse_sql
    from northstar.spec.validate import metric_expressions

    spec = loaded.spec
    names = list(spec.sources[name].dimensions)
    for metric in spec.metrics.values():
        if getattr(metric, "source", None) != name:
            continue
        for _field, text in metric_expressions(metric):
            try:
                names += parse_sql(text).columns
            except ExpressionError:
                continue  # validation reports it
    return [n for n in dict.fromkeys(names) if "." in n]


def _with_spec_columns(backend: Backend, loaded: LoadedSpec, bound: BoundSource) -> ir.Table:
    """The source's table as every reader sees it: decimals as floats, a preset's computed
    entity, and a column for each property path the spec names (so dimensions, checks and
    analyses read `properties.plan` as any column)."""
    table = with_computed_entity(_decimals_as_floats(bound.table), bound.source)
    return with_paths(table, spec_paths(loaded, bound.name), backend.json_text)
